import { AsyncLocalStorage } from 'node:async_hooks'
import fp from 'fastify-plugin'
import { directDatabaseUrl } from '../config.js'
import { createCache, type Cache, type Source } from '../cache/cache.js'
import { createHotTier } from '../cache/hot-tier.js'
import { invalidationFor } from '../cache/invalidation.js'
import { ALL_KINDS, kindGenerationKey } from '../cache/keys.js'
import { createCacheMetrics, type CacheMetrics } from '../cache/metrics.js'
import { createPeers, PEERS_CHANNEL, type Peers } from '../cache/peers.js'
import { createRedisStore, type RedisStore } from '../cache/redis-store.js'
import type { ChangeEvent } from '../db/change-events.js'
import { createChangeListener, LISTENER_APPLICATION_NAME, type ChangeListener } from '../db/change-listener.js'

// Bump when a cached value's shape changes: old entries are then never read.
const CACHE_SCHEMA_VERSION = 1
const HOT_TTL_MS = 60_000
const JOIN_TIMEOUT_MS = 5000

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
  // With a replica, reads wait for it to replay each change before the change counts as applied.
  const replicated = app.pgRead.replicated
  const metrics = createCacheMetrics()
  const redis = config.REDIS_URL === undefined
    ? undefined
    : createRedisStore({
      url: config.REDIS_URL,
      commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
      log,
      allKindKeys: () => ALL_KINDS.map(kind => `${namespace()}${kindGenerationKey(kind)}`)
    })
  let flushing: Promise<void> | undefined
  // Invalidations of received change notifications still running: a barrier of another
  // instance is confirmed once those received before it are done.
  const applying = new Set<Promise<void>>()
  const track = (work: Promise<void>) => {
    applying.add(work)
    work.finally(() => applying.delete(work)).catch(() => {})
  }
  const peers = createPeers({
    send: payload => listener.notify(PEERS_CHANNEL, payload),
    applied: async () => { await Promise.allSettled([...applying]) },
    discover: async () => {
      const { rows } = await app.pg.query<{ name: string }>(
        'SELECT application_name AS name FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE $1',
        [`${LISTENER_APPLICATION_NAME} %`])
      return rows.map(row => row.name.slice(LISTENER_APPLICATION_NAME.length + 1))
    },
    listening: () => listener.ready,
    timeoutMs: config.CACHE_PEER_TIMEOUT_MS,
    restartListening: reason => listener.restart(reason),
    log
  })
  const listener: ChangeListener = createChangeListener({
    connectionString: directDatabaseUrl(config),
    applicationName: `${LISTENER_APPLICATION_NAME} ${peers.id}`,
    log,
    onChange: event => { track(apply(event).catch(err => log.error({ err, event }, 'cache invalidation failed'))) },
    // Changes made while nobody was listening may not have reached Redis either.
    // The cache stays bypassed until the flush is done.
    onReset: reason => {
      log.info({ reason }, 'change notifications (re)started: flushing the cache')
      flushing = cache.invalidateKinds(ALL_KINDS)
        .catch(err => log.warn({ err }, 'cache flush after reconnect failed'))
        .then(() => { flushing = undefined })
      track(flushing)
    },
    onListening: () => {
      peers.listening()
      if (replicated) app.pgRead.resync().catch(() => {})
    },
    channels: { [PEERS_CHANNEL]: payload => peers.receive(payload) }
  })
  if (replicated) {
    app.pgRead.follow({
      walPosition: () => listener.walPosition(),
      listening: () => listener.ready,
      restart: reason => listener.restart(reason)
    })
  }
  const cache: Cache = createCache({
    namespace,
    hot: createHotTier({ maxEntries: config.CACHE_HOT_MAX_ENTRIES, maxBytes: config.CACHE_HOT_MAX_BYTES }),
    redis,
    metrics,
    ttlMs: config.CACHE_TTL_SECONDS * 1000,
    hotTtlMs: HOT_TTL_MS,
    enabled: () => listener.ready && flushing === undefined && peers.joined,
    // A write is acknowledged once this and every other instance have applied its change.
    afterWrite: async () => {
      const began = performance.now()
      await peers.settle()
      metrics.time('barrier_wait', (performance.now() - began) / 1000)
    },
    onRead: (source, refs) => {
      const state = reads.getStore()
      if (state === undefined) return
      if (state.source === undefined || RANK[source] > RANK[state.source]) state.source = source
      if (state.refs !== undefined) for (const ref of refs) state.refs.add(ref)
    }
  })

  async function apply (event: ChangeEvent): Promise<void> {
    // Before the keys are dropped: a miss that follows must not read a replica without the change.
    if (replicated) await app.pgRead.caughtUp(event.async === true)
    const { keys, kinds } = invalidationFor(event)
    await cache.invalidate(keys)
    if (kinds.length > 0) await cache.invalidateKinds(kinds)
    if (event.at !== undefined) metrics.time('invalidation_lag', (Date.now() - event.at) / 1000)
  }

  await listener.start()
  // Serving from the cache waits for this instance's announcement to come back (see peers.ts).
  if (listener.ready) await peers.waitJoined(JOIN_TIMEOUT_MS)
  if (redis) redis.start()
  else log.info('REDIS_URL not set: caching in-process only (each instance its own cache)')

  app.decorate('cache', { cache, redis, metrics, listener, peers })
  // Reads made while handling a request report to that request's state (see onRead above); an
  // anonymous GET's also collect the keys it was built from (plugins/response-cache.ts keeps it).
  app.addHook('onRequest', (request, reply, done) => {
    const anonymous = request.method === 'GET' && request.headers.authorization === undefined
    const state: ReadState = anonymous ? { refs: new Set(), since: cache.clock } : {}
    request.dataReads = state
    reads.run(state, done)
  })
  app.addHook('onClose', async () => {
    await peers.close()
    await listener.stop()
    await redis?.close()
  })
}, { name: 'cache', dependencies: ['config', 'db', 'read-db'] })
