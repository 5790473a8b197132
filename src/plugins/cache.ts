// The read cache and its stores (the in-process hot tier, Redis): what the repositories read
// through, kept coherent by the change feed it subscribes to (plugins/changes.ts), and each
// request's account of which tier its reads came from.
import { AsyncLocalStorage } from 'node:async_hooks'
import fp from 'fastify-plugin'
import { createCache, type Cache, type Source } from '../cache/cache.js'
import { createHotTier } from '../cache/hot-tier.js'
import { invalidationFor } from '../cache/invalidation.js'
import { ALL_KINDS, kindGenerationKey } from '../cache/keys.js'
import { createCacheMetrics, type CacheMetrics } from '../cache/metrics.js'
import type { Peers } from '../cache/peers.js'
import { createRedisStore, type RedisStore } from '../cache/redis-store.js'
import type { ChangeEvent } from '../db/change-events.js'
import type { ChangeListener } from '../db/change-listener.js'
import type { Changes } from './changes.js'

// Bump when a cached value's shape changes: old entries are then never read.
const CACHE_SCHEMA_VERSION = 1
const HOT_TTL_MS = 60_000

export interface CacheState {
  cache: Cache
  /** The shared tier, when REDIS_URL is set. */
  redis: RedisStore | undefined
  metrics: CacheMetrics
  listener: ChangeListener
  peers: Peers
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The read cache, or null when CACHE=off. */
    cache: CacheState | null
  }
  interface FastifyRequest {
    /** Where this request's data came from: the slowest tier any of its reads touched. */
    dataReads: ReadState | null
  }
}

const RANK: Record<Source, number> = { hot: 0, redis: 1, postgres: 2 }

export interface ReadState {
  source?: Source
  /** anonymous GETs: the cache keys the response was built from, and the clock when it began */
  refs?: Set<string>
  since?: number
}

export default fp(async app => {
  const { config, log } = app
  app.decorateRequest('dataReads', null)
  if (config.CACHE === 'off') {
    log.info('cache off (CACHE=off): every read goes to PostgreSQL')
    app.decorate('cache', null)
    return
  }

  const reads = new AsyncLocalStorage<ReadState>()
  const namespace = () => `${config.REDIS_PREFIX}:v${CACHE_SCHEMA_VERSION}:`
  const metrics = createCacheMetrics()
  const redis = config.REDIS_URL === undefined
    ? undefined
    : createRedisStore({
      url: config.REDIS_URL,
      commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
      log,
      allKindKeys: () => ALL_KINDS.map(kind => `${namespace()}${kindGenerationKey(kind)}`)
    })
  const changes = app.changes as Changes
  const cache: Cache = createCache({
    namespace,
    hot: createHotTier({ maxEntries: config.CACHE_HOT_MAX_ENTRIES, maxBytes: config.CACHE_HOT_MAX_BYTES }),
    redis,
    metrics,
    ttlMs: config.CACHE_TTL_SECONDS * 1000,
    hotTtlMs: HOT_TTL_MS,
    enabled: () => changes.live,
    // A write is acknowledged once this and every other instance have applied its change.
    afterWrite: async () => {
      const began = performance.now()
      await changes.settle()
      metrics.time('barrier_wait', (performance.now() - began) / 1000)
    },
    onRead: (source, refs) => {
      const state = reads.getStore()
      if (state === undefined) return
      if (state.source === undefined || RANK[source] > RANK[state.source]) state.source = source
      if (state.refs !== undefined) for (const ref of refs) state.refs.add(ref)
    }
  })

  // What each change drops (invalidation.ts); after a gap in notifications, anything may be stale.
  changes.subscribe({
    async change (event: ChangeEvent) {
      const { keys, kinds } = invalidationFor(event)
      await cache.invalidate(keys)
      if (kinds.length > 0) await cache.invalidateKinds(kinds)
      if (event.at !== undefined) metrics.time('invalidation_lag', (Date.now() - event.at) / 1000)
    },
    // Changes made while nobody was listening may not have reached Redis either. The cache stays
    // bypassed until this is done (changes.live).
    reset: () => cache.invalidateKinds(ALL_KINDS)
  })
  if (redis) redis.start()
  else log.info('REDIS_URL not set: caching in-process only (each instance its own cache)')

  app.decorate('cache', { cache, redis, metrics, listener: changes.listener, peers: changes.peers })
  // Reads made while handling a request report to that request's state (see onRead above); an
  // anonymous GET's also collect the keys it was built from (plugins/response-cache.ts keeps it).
  app.addHook('onRequest', (request, reply, done) => {
    const anonymous = request.method === 'GET' && request.headers.authorization === undefined
    const state: ReadState = anonymous ? { refs: new Set(), since: cache.clock } : {}
    request.dataReads = state
    reads.run(state, done)
  })
  app.addHook('onClose', async () => {
    await redis?.close()
  })
}, { name: 'cache', dependencies: ['config', 'changes'] })
