import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

// Liveness only: no I/O, so it answers while the process can serve at all (and the bench uses
// it as the ceiling every other route is measured against).
const health: FastifyPluginAsyncTypebox = async app => {
  app.get('/health', {
    schema: {
      tags: ['Operations'],
      summary: 'Liveness probe',
      response: { 200: Type.Object({ status: Type.Literal('ok') }) }
    }
  }, async () => ({ status: 'ok' as const }))
}

export default health
