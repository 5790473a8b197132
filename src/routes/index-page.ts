import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IndexPage } from '../schemas/index-page.js'

// GET /: a small JSON index, so opening the service's address in a browser says where to go
// (the API, its docs) instead of a 404.
const indexPage: FastifyPluginAsyncTypebox = async app => {
  const docs = app.config.DOCS === 'on' ? { docs: '/docs', openapi: '/docs/json' } : {}
  const body = { name: 'gravity-bff', api: '/api', ...docs, health: '/health/ready' }
  app.get('/', {
    schema: { tags: ['Operations'], summary: 'Where the API and its docs are', response: { 200: IndexPage } }
  }, async () => body)
}

export default indexPage
