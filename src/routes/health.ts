import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Liveness, Readiness } from '../schemas/health.js'

// Probes for an orchestrator. Liveness does no I/O: it answers while the process can serve at all
// (and the bench measures every route against it). Readiness says whether to send traffic here.
// Probes write no per-request log line (they come every few seconds from every orchestrator) and
// are exempt from rate limits and load shedding (config.probe).

const probe = { logLevel: 'silent' as const, config: { probe: true } }
const live = { tags: ['Operations'], response: { 200: Liveness } }

const health: FastifyPluginAsyncTypebox = async app => {
  app.get('/health/live', { ...probe, schema: { ...live, summary: 'Liveness probe (no I/O)' } }, async () => ({ status: 'ok' as const }))
  // Kept for compatibility: the liveness probe's first name.
  app.get('/health', { ...probe, schema: { ...live, summary: 'Liveness probe (same as /health/live)' } }, async () => ({ status: 'ok' as const }))

  app.get('/health/ready', {
    ...probe,
    schema: {
      tags: ['Operations'],
      summary: 'Readiness probe: PostgreSQL answers and the migrations are applied',
      response: { 200: Readiness, 503: Readiness }
    }
  }, async (request, reply) => {
    const readiness = await app.readiness()
    if (readiness.status === 'unready' || readiness.status === 'draining') {
      return reply.code(503).header('retry-after', '5').send(readiness)
    }
    return readiness
  })
}

export default health
