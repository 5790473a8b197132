import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors } from '../schemas/errors.js'
import { TAGS } from '../schemas/examples.js'

const tags: FastifyPluginAsyncTypebox = async app => {
  app.get('/tags', {
    schema: {
      tags: ['Tags'],
      summary: 'Get tags, most used first',
      operationId: 'GetTags',
      response: { 200: Type.Object({ tags: Type.Array(Type.String()) }, { examples: [TAGS] }), ...errors(422) }
    }
  }, async () => ({ tags: await app.repos.tags.list() }))
}

export default tags
