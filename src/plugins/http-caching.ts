// Conditional GETs and cache headers for the API's reads. A 200 to a GET under /api carries a
// strong ETag of the exact body sent to this viewer (its favorited/following flags are in the
// bytes), and an If-None-Match naming it gets 304 with no body. Anonymous answers may be kept by
// browsers and shared caches for PUBLIC_MAX_AGE_SECONDS; an answer to a request with a token is
// the viewer's own and revalidated every time. Writes carry no cache headers.
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { codedEtag, etagOf, matchingTag } from '../lib/etag.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The tag of this request's body: set ahead by a cache that knows it (then not hashed again). */
    etag: string | null
  }
}

const PRIVATE = 'private, no-cache'
// Lower case: @fastify/compress adds accept-encoding itself unless it finds it so spelled.
const VARY = ['authorization', 'accept-encoding']

function isRead (request: FastifyRequest): boolean {
  return (request.method === 'GET' || request.method === 'HEAD') && request.routeOptions.url?.startsWith('/api/') === true
}

function addVary (reply: FastifyReply): void {
  const current = reply.getHeader('vary')
  const present = new Set(String(current ?? '').toLowerCase().split(',').map(name => name.trim()).filter(Boolean))
  const missing = VARY.filter(name => !present.has(name))
  if (missing.length > 0) reply.header('vary', [...(current === undefined ? [] : [String(current)]), ...missing].join(', '))
}

export default fp(async app => {
  const { PUBLIC_MAX_AGE_SECONDS: maxAge, PUBLIC_STALE_WHILE_REVALIDATE_SECONDS: stale } = app.config
  const PUBLIC = maxAge === 0
    ? 'public, no-cache'
    : `public, max-age=${maxAge}${stale > 0 ? `, stale-while-revalidate=${stale}` : ''}`
  app.decorateRequest('etag', null)

  // Before compression: the tag is of the JSON document, and a 304 is never compressed.
  app.addHook('onSend', (request, reply, payload, done) => {
    // A route that said no-store (answers carrying a token) is not to be kept anywhere: no tag either.
    if (reply.statusCode !== 200 || !isRead(request) || (typeof payload !== 'string' && !Buffer.isBuffer(payload)) ||
      String(reply.getHeader('cache-control') ?? '').includes('no-store')) {
      request.etag = null
      return done(null, payload)
    }
    const etag = request.etag ?? etagOf(payload)
    request.etag = etag
    reply.header('cache-control', request.headers.authorization === undefined ? PUBLIC : PRIVATE)
    addVary(reply)
    const matched = matchingTag(request.headers['if-none-match'], etag)
    if (matched === undefined) return done(null, payload)
    // The client's own tag goes back: it names the form (coding) it holds.
    request.etag = matched
    reply.code(304)
    reply.removeHeader('content-encoding')
    done(null, null)
  })

  // After compression (route hooks run after these, and @fastify/compress adds its own to every
  // route as it is declared): the tag names the coding sent.
  app.addHook('onRoute', route => {
    const methods = [route.method].flat()
    if (!methods.includes('GET') && !methods.includes('HEAD')) return
    const tagCoding = (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void) => {
      const etag = request.etag
      if (etag !== null) {
        reply.header('etag', reply.statusCode === 304 ? etag : codedEtag(etag, reply.getHeader('content-encoding') as string | undefined))
      }
      done(null, payload)
    }
    route.onSend = route.onSend === undefined ? [tagCoding] : [...[route.onSend].flat(), tagCoding]
  })
}, { name: 'http-caching', dependencies: ['config'] })
