import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'

const DOCS_CSP = [
  "default-src 'self'", "base-uri 'self'", "connect-src 'self'", "font-src 'self' data:", "form-action 'self'",
  "frame-ancestors 'self'", "img-src 'self' data:", "object-src 'none'", "script-src 'self'", "script-src-attr 'none'",
  "style-src 'self' 'unsafe-inline'"
].join('; ')

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
  // The UI's page loads its scripts, styles and the document from /docs itself (no inline
  // script); its CSP replaces the API's `default-src 'none'` on /docs routes only. Unlike
  // swagger-ui's own staticCSP, no upgrade-insecure-requests: over plain http (development) it
  // would send the browser to https for every asset.
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CSP })
}, { name: 'swagger' })
