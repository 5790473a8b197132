import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'

// Registered before the routes: @fastify/swagger builds the document from each route's schemas.
export default fp(async app => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gravity BFF — RealWorld Conduit API',
        description: 'The Conduit API (v1.1.0). Authenticate with `Authorization: Token <jwt>`.',
        version: '1.1.0'
      },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          Token: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'Token <jwt>' }
        }
      }
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
}, { name: 'swagger' })
