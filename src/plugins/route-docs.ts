import type { RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { errors } from '../schemas/errors.js'

type Hook = RouteOptions['onRequest']

const NOT_MODIFIED = {
  description: "Not Modified: If-None-Match named the response's current ETag (per viewer); no body",
  type: 'null'
}

// What every route's OpenAPI entry says the same way, derived once from the route itself rather
// than repeated in each: its security (from the auth hook it runs: a required token, or an
// optional one, which "Try it out" then sends too), and the error statuses any route can answer
// (400 malformed request, 429 over a rate limit, 503 overloaded, draining or database down; with
// a body also 413 and 415; a read of the API also 304, see http-caching.ts). A route declares only
// the statuses that are its own (401, 403, 404, 422).
export default fp(async app => {
  const uses = (hook: Hook, wanted: unknown) => Array.isArray(hook) ? (hook as unknown[]).includes(wanted) : hook === wanted
  app.addHook('onRoute', route => {
    const schema = route.schema
    if (schema === undefined || schema.hide === true || (route.config as { probe?: boolean } | undefined)?.probe === true) return
    if (uses(route.onRequest, app.auth.required)) schema.security ??= [{ Token: [] }]
    else if (uses(route.onRequest, app.auth.optional)) schema.security ??= [{ Token: [] }, {}]
    const withBody = schema.body !== undefined
    const read = [route.method].flat().includes('GET') && route.url.startsWith('/api/')
    schema.response = {
      ...(read ? { 304: NOT_MODIFIED } : {}),
      ...errors(400, 429, 503, ...(withBody ? [413, 415] as const : [])),
      ...(schema.response as Record<string, unknown> | undefined)
    }
  })
}, { name: 'route-docs', dependencies: ['auth'] })
