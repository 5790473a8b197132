import rateLimit, { normalizeIP, type RateLimitOptions } from '@fastify/rate-limit'
import type { FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { RateLimited } from '../errors.js'
import { createRateCounters } from '../lib/rate-counters.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `auth`: the route takes credentials (login, register): the strict per-address limit. */
    limit?: 'auth'
  }
}

const WINDOW_MS = 60_000
// How far another instance's hits may trail in the global count (batched to Redis).
const SYNC_EVERY_MS = 100
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
// Probes are never limited: a load balancer must see an instance that can serve as live.
const EXEMPT = /^\/health(?:\/|$)/

// Keys name their limit (the plugin's groupId would be appended to the per-address key too).
const authKey = (request: FastifyRequest) => `auth ${normalizeIP(request.ip)}`
// A write counts against its user, so users behind one address (an office, a NAT) do not share
// a budget; auth.required has run by then (route onRequest hooks run in order, this one last).
const writeKey = (request: FastifyRequest) =>
  typeof request.userId === 'number' ? `write user ${request.userId}` : `write ${normalizeIP(request.ip)}`

/**
 * Per minute: RATE_LIMIT_MAX requests per client address on every request, and on top of it
 * AUTH_RATE_LIMIT_MAX on login and register per address and WRITE_RATE_LIMIT_MAX writes per
 * user (0 turns one off). Counted in Redis when REDIS_URL is set, in memory otherwise or while
 * Redis is unreachable; a 429 says when to retry.
 */
export default fp(async app => {
  const { config, log } = app
  const { RATE_LIMIT_MAX, AUTH_RATE_LIMIT_MAX, WRITE_RATE_LIMIT_MAX } = config
  if (RATE_LIMIT_MAX === 0 && AUTH_RATE_LIMIT_MAX === 0 && WRITE_RATE_LIMIT_MAX === 0) {
    log.info('rate limits off')
    return
  }
  const counters = createRateCounters({
    redisUrl: config.REDIS_URL,
    prefix: `${config.REDIS_PREFIX}:rate`,
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    syncEveryMs: SYNC_EVERY_MS,
    log
  })
  counters.start()
  app.addHook('onClose', () => counters.close())

  const auth: RateLimitOptions | undefined = AUTH_RATE_LIMIT_MAX === 0
    ? undefined
    : { max: AUTH_RATE_LIMIT_MAX, timeWindow: WINDOW_MS, keyGenerator: authKey }
  const write: RateLimitOptions | undefined = WRITE_RATE_LIMIT_MAX === 0
    ? undefined
    : { max: WRITE_RATE_LIMIT_MAX, timeWindow: WINDOW_MS, keyGenerator: writeKey }
  const limitOf = (route: RouteOptions): RateLimitOptions | false | undefined => {
    if (EXEMPT.test(route.url)) return false
    if (route.config?.limit === 'auth') return auth
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    return methods.some(method => WRITE_METHODS.has(method)) ? write : undefined
  }

  // Added before @fastify/rate-limit's own onRoute hook, which reads config.rateLimit.
  app.addHook('onRoute', route => {
    if (route.config?.rateLimit !== undefined) return
    const limit = limitOf(route)
    if (limit !== undefined) route.config = { ...route.config, rateLimit: limit }
  })
  await app.register(rateLimit, {
    // Route limits only: the per-address limit is the hook below.
    global: false,
    timeWindow: WINDOW_MS,
    store: counters.Store,
    // The counters never fail (they count in memory instead); should they, serve the request.
    skipOnError: true,
    errorResponseBuilder: (_request, context) => new RateLimited(inSeconds(context.ttl))
  })
  if (RATE_LIMIT_MAX === 0) return

  // An app-level hook, registered before the cache's: it runs before the cache answers an
  // anonymous GET from memory (route hooks would not run at all then), and before auth. On every
  // request, so kept to a synchronous count: no promise, no header unless the client is refused.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.url.startsWith('/health') && request.routeOptions.config.rateLimit === false) return done()
    const { current, ttl } = counters.hit(normalizeIP(request.ip), WINDOW_MS)
    if (current <= RATE_LIMIT_MAX) return done()
    const seconds = Math.ceil(ttl / 1000)
    reply.header('retry-after', seconds).header('x-ratelimit-limit', RATE_LIMIT_MAX)
      .header('x-ratelimit-remaining', 0).header('x-ratelimit-reset', seconds)
    done(new RateLimited(inSeconds(ttl)))
  })
}, { name: 'rate-limit', dependencies: ['config'] })

function inSeconds (ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000))
  return seconds === 1 ? '1 second' : `${seconds} seconds`
}
