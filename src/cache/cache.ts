import type { HotTier } from './hot-tier.js'
import type { CacheMetrics } from './metrics.js'
import { entryKey, kindGenerationKey, keys } from './keys.js'
import type { RedisStore } from './redis-store.js'

export type Source = 'hot' | 'redis' | 'postgres'

export interface CacheOptions {
  /** Key prefix: deployment prefix, schema version and invalidation epoch. */
  namespace: () => string
  hot: HotTier
  redis?: RedisStore
  metrics: CacheMetrics
  ttlMs: number
  hotTtlMs: number
  /** Where each read was served from, for the request's log line. */
  onRead?: (source: Source, refs: readonly string[]) => void
  /** false while change notifications are not being received: reads then go to PostgreSQL. */
  enabled?: () => boolean
  /** After a write committed: waits until its change notification is applied here and by the other instances. */
  afterWrite?: () => Promise<void>
}

export interface Definition<T> {
  /** Loads the values of the ids that missed, from PostgreSQL. */
  fetch: (ids: string[]) => Promise<Map<string, T>>
  /** Turns a value parsed back from Redis into what fetch returns (dates, for one). */
  revive?: (value: T) => T
  ttlMs?: number
  /** Also invalidated by these keys (default: only its own key). */
  refs?: (id: string) => string[]
  /** false: in-process only (entries whose every invalidation cannot be named by key). */
  redis?: boolean
}

const jitter = (ms: number) => Math.round(ms * (0.9 + Math.random() * 0.2))

/**
 * Cache-aside over PostgreSQL reads: in-process hot tier, then Redis, then the fetch; concurrent
 * misses of one key share one fetch. Invalidation is by key, and a read that started before an
 * invalidation of its key never stores its (possibly stale) result in either tier.
 */
export function createCache (options: CacheOptions) {
  const { hot, redis, metrics } = options
  // Loads in progress, with the clock when each began: a read joins one only if nothing it
  // depends on was invalidated since, or it could return a value older than an acknowledged write.
  const inflight = new Map<string, { load: Promise<unknown>, since: number }>()
  // Local invalidation clock: which keys were invalidated after a fetch began.
  let clock = 0
  let flushedAt = 0
  const invalidatedAt = new Map<string, number>()

  function mark (keys: string[]): void {
    clock++
    for (const key of keys) invalidatedAt.set(key, clock)
  }

  function stale (key: string, since: number): boolean {
    return flushedAt > since || (invalidatedAt.get(key) ?? 0) > since
  }

  // Loads running (not map entries: a newer load replaces an invalidated one in `inflight`,
  // and the older one still needs invalidatedAt to know that its result is stale).
  let loading = 0

  function settle (key: string, load: Promise<unknown>): void {
    if (inflight.get(key)?.load === load) inflight.delete(key)
  }

  /** Drops `keys` from both tiers (and from Redis for every instance). */
  async function invalidate (keys: Iterable<string>): Promise<boolean> {
    const list = [...new Set(keys)]
    if (list.length === 0) return true
    // Marked stale here before Redis is told, and again after. Before: a value loaded earlier
    // must not be stored (a prime is stored in Redis without a generation check) once the
    // Redis invalidation is on its way. After: a load that began in between may have read the
    // old Redis value. Then this process's tier.
    mark(list)
    // Not confirmed: the store keeps the keys and replays them before Redis is read again.
    const ns = options.namespace()
    const confirmed = redis === undefined ? true : await redis.invalidate(list.map(key => `${ns}${key}`))
    mark(list)
    for (const key of list) metrics.count(key.slice(0, key.indexOf(':')), 'invalidations')
    hot.invalidate(list)
    return confirmed
  }

  function define<T> (name: string, definition: Definition<T>) {
    const ttlMs = definition.ttlMs ?? options.ttlMs
    const revive = definition.revive ?? (value => value)
    const keyOf = (id: string) => entryKey(name, id)
    const refsOf = (id: string) => [keyOf(id), ...(definition.refs?.(id) ?? [])]
    const shared = definition.redis === false ? undefined : redis
    const isStale = (refs: readonly string[], since: number) => refs.some(ref => stale(ref, since))

    async function load (ids: string[], since: number): Promise<Map<string, T>> {
      const ns = options.namespace()
      const found = new Map<string, T>()
      const kindKey = `${ns}${kindGenerationKey(name)}`
      const cached = shared ? await shared.read(ids.map(id => `${ns}${keyOf(id)}`), kindKey) : undefined
      const missing: string[] = []
      ids.forEach((id, i) => {
        const raw = cached?.values[i]
        if (raw == null) return missing.push(id)
        let value: T
        try {
          value = revive(JSON.parse(raw) as T)
        } catch {
          // An entry that does not parse (written by something else under our prefix) is a miss, not a 500.
          return missing.push(id)
        }
        const refs = refsOf(id)
        metrics.count(name, 'redisHits')
        options.onRead?.('redis', refs)
        found.set(id, value)
        if (!isStale(refs, since)) hot.set(keyOf(id), value, raw.length, refs, options.hotTtlMs)
      })
      if (cached === undefined && shared?.available) metrics.count(name, 'redisErrors')
      if (missing.length === 0) return found
      metrics.count(name, 'misses', missing.length)
      const fetched = await definition.fetch(missing)
      for (const id of missing) {
        const refs = refsOf(id)
        options.onRead?.('postgres', refs)
        const value = fetched.get(id)
        if (value === undefined) continue
        found.set(id, value)
        if (isStale(refs, since)) continue
        const raw = JSON.stringify(value)
        hot.set(keyOf(id), value, raw.length, refs, options.hotTtlMs)
        if (shared && cached) {
          const generation = cached.generations[ids.indexOf(id)] ?? null
          shared.fill(`${ns}${keyOf(id)}`, kindKey, generation, cached.kindGeneration, raw, jitter(ttlMs)).catch(() => {})
        }
      }
      return found
    }

    /** Values for `ids` (undefined where PostgreSQL has none), coalescing concurrent misses. */
    async function many (ids: string[]): Promise<Array<T | undefined>> {
      if (options.enabled?.() === false) {
        options.onRead?.('postgres', [])
        const fetched = await definition.fetch([...new Set(ids)])
        return ids.map(id => fetched.get(id))
      }
      const result = new Map<string, T | undefined>()
      const waits: Array<Promise<void>> = []
      const toLoad: string[] = []
      for (const id of new Set(ids)) {
        // A hit reports the references stored with the entry: no refs computed per hit.
        const entry = hot.lookup(keyOf(id))
        if (entry !== undefined) {
          metrics.count(name, 'hotHits')
          options.onRead?.('hot', entry.refs)
          result.set(id, entry.value as T)
          continue
        }
        const pending = inflight.get(keyOf(id)) as { load: Promise<T | undefined>, since: number } | undefined
        const refs = pending === undefined ? [] : refsOf(id)
        if (pending !== undefined && !isStale(refs, pending.since)) {
          metrics.count(name, 'coalesced')
          options.onRead?.('postgres', refs)
          waits.push(pending.load.then(value => { result.set(id, value) }))
          continue
        }
        toLoad.push(id)
      }
      if (toLoad.length > 0) {
        const since = clock
        loading++
        const batch = load(toLoad, since).finally(() => {
          if (--loading === 0) invalidatedAt.clear()
        })
        for (const id of toLoad) {
          const one = batch.then(found => found.get(id))
          inflight.set(keyOf(id), { load: one, since })
          waits.push(one.then(value => { result.set(id, value) }))
          one.then(() => settle(keyOf(id), one), () => settle(keyOf(id), one))
        }
      }
      await Promise.all(waits)
      return ids.map(id => result.get(id))
    }

    return {
      many,
      get: async (id: string): Promise<T | undefined> => (await many([id]))[0],
      /**
       * Stores a value another query happened to load, unless it was invalidated after `since`,
       * the clock read before that query began. In Redis too: every instance applies every change
       * notification to Redis, this one included, so a change it has not applied yet removes the
       * value after this store (same connection, in order).
       */
      prime (id: string, value: T, since: number): void {
        const refs = refsOf(id)
        if (options.enabled?.() === false || isStale(refs, since)) return
        const raw = JSON.stringify(value)
        hot.set(keyOf(id), value, raw.length, refs, options.hotTtlMs)
        if (shared?.available === true) {
          const ns = options.namespace()
          shared.put(`${ns}${keyOf(id)}`, `${ns}${kindGenerationKey(name)}`, raw, jitter(ttlMs)).catch(() => {})
        }
      }
    }
  }

  return {
    define,

    /** The invalidation clock: a response built from reads is storable only if it did not move. */
    get clock () { return clock },

    /** A whole response kept for an anonymous GET (plugins/response-cache.ts). */
    response<T> (url: string): T | undefined {
      if (options.enabled?.() === false) return undefined
      return hot.get(keys.response(url)) as T | undefined
    },

    /** Keeps a response built from `refs`, unless anything was invalidated since it began. */
    keepResponse (url: string, value: unknown, bytes: number, refs: Iterable<string>, since: number): void {
      if (clock !== since || options.enabled?.() === false) return
      hot.set(keys.response(url), value, bytes, [...refs], options.hotTtlMs)
    },

    /**
     * A write through this instance committed: waits until its change notification (the one
     * account of what a change invalidates, see invalidation.ts) has been applied by every
     * instance. Call before acknowledging the write.
     */
    async written (): Promise<void> {
      await options.afterWrite?.()
    },

    invalidate,

    /** Drops whole kinds of keys (`article`, `user`…) when a change cannot name its rows. */
    async invalidateKinds (kinds: string[]): Promise<void> {
      // Marked before and after Redis, then this process (as in invalidate).
      flushedAt = ++clock
      const ns = options.namespace()
      await redis?.invalidateKinds(kinds.map(kind => `${ns}${kindGenerationKey(kind)}`))
      flushedAt = ++clock
      hot.clear()
    },

    /** Empties the hot tier: after a gap in change notifications, anything in it may be stale. */
    flushHot (): void {
      flushedAt = ++clock
      hot.clear()
    }
  }
}

export type Cache = ReturnType<typeof createCache>
