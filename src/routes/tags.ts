import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../schemas/errors.js'
import { TagsResponse } from '../schemas/tag.js'

const tags: FastifyPluginAsyncTypebox = async app => {
  app.get('/tags', {
    schema: {
      tags: ['Tags'],
      summary: 'Get tags, most used first',
      operationId: 'GetTags',
      response: { 200: TagsResponse, ...errors(422) }
    }
  }, async () => ({ tags: await app.repos.tags.list() }))
}

export default tags
