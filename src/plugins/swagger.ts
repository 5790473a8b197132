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
          Token: {
            type: 'apiKey',
            name: 'Authorization',
            in: 'header',
            description: 'The header is `Authorization: Token <jwt>`. In this page, paste the token alone (from a login or register answer): the `Token ` prefix is added for you.'
          }
        }
      }
    },
    // Query parameters with a default (limit, offset) are optional to a caller, whatever
    // TypeBox's required list says about the validated (defaulted) object.
    transform: ({ schema, url }) => {
      const query = schema?.querystring as { properties?: Record<string, { default?: unknown }>, required?: string[] } | undefined
      if (query?.required === undefined) return { schema, url }
      const required = query.required.filter(name => query.properties?.[name]?.default === undefined)
      return { schema: { ...schema, querystring: { ...query, required } }, url }
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  // The UI's page loads its scripts, styles and the document from /docs itself (no inline
  // script); its CSP replaces the API's `default-src 'none'` on /docs routes only. Unlike
  // swagger-ui's own staticCSP, no upgrade-insecure-requests: over plain http (development) it
  // would send the browser to https for every asset.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: DOCS_CSP,
    uiConfig: {
      // Serialised into the page's own script file (not inline, so the CSP holds): "Try it out"
      // sends a pasted bare token as `Token <jwt>`.
      requestInterceptor: request => {
        const headers = request.headers as Record<string, string>
        const value = headers.Authorization
        if (typeof value === 'string' && value !== '' && !/^(Token|Bearer) /i.test(value)) headers.Authorization = `Token ${value}`
        return request
      }
    }
  })
}, { name: 'swagger' })
