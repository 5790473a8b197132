import type { FastifyBaseLogger } from 'fastify'
import { Redis } from 'ioredis'
import { within } from '../lib/deadline.js'

export interface RedisStoreOptions {
  url: string
  commandTimeoutMs: number
  log: FastifyBaseLogger
  /** The key of every kind's generation: bumped all at once when too much was missed to name. */
  allKindKeys: () => string[]
}

// Keys whose invalidation Redis did not confirm, replayed before it is read again; past this
// many, every kind is bumped instead.
const MAX_UNCONFIRMED = 100000
const EVERYTHING = '*'

// Values are stored as `<kind generation>|<json>`. A fill lands only if neither the key's
// generation nor its kind's moved since the reader looked, before it queried PostgreSQL: an
// invalidation in between bumps one of them and the stale fill is dropped.
const FILL = `local gen = redis.call('GET', KEYS[2]) or ''
local kindGen = redis.call('GET', KEYS[3]) or '0'
if gen == ARGV[1] and kindGen == ARGV[2] then
  redis.call('SET', KEYS[1], kindGen .. '|' .. ARGV[3], 'PX', ARGV[4]) return 1
end
return 0`
// A value loaded by another query (see cache.prime), stored under the kind's generation unless
// an entry is there already.
const PUT = `local kindGen = redis.call('GET', KEYS[2]) or '0'
return redis.call('SET', KEYS[1], kindGen .. '|' .. ARGV[1], 'PX', ARGV[2], 'NX') and 1 or 0`
// Bump every generation, then drop the values: a reader in flight can no longer fill.
const INVALIDATE = `for i = 1, #KEYS / 2 do
  redis.call('INCR', KEYS[i * 2])
  redis.call('PEXPIRE', KEYS[i * 2], ARGV[1])
  redis.call('DEL', KEYS[i * 2 - 1])
end
return #KEYS / 2`
const GENERATION_TTL_MS = 24 * 3600 * 1000

/**
 * Redis as a fail-open tier: every call resolves (a failure reads as a miss, or as nothing
 * done), commands time out quickly, nothing queues while disconnected, and the connection
 * comes back with backoff. One log line per change of state, never one per request. It owns
 * its outages: an invalidation Redis did not confirm is kept, Redis is not read until it has
 * been replayed, so an entry that survived the outage is never served stale.
 */
export function createRedisStore ({ url, commandTimeoutMs, log, allKindKeys }: RedisStoreOptions) {
  // Not ioredis's commandTimeout: its timer runs before the socket is read, so after a stall of
  // this process longer than the timeout a reply that had arrived in time counted as a timeout,
  // and a timed-out invalidation takes a healthy Redis out of use (see suspect). A command is
  // late only if its reply is still missing once the loop has read the socket (lib/deadline.ts).
  // A command that missed its deadline stays in ioredis's queue, so replies stay matched.
  const timed = <T>(command: Promise<T>): Promise<T> =>
    within(command, commandTimeoutMs, `Command timed out (no reply within ${commandTimeoutMs} ms)`)
  const client = new Redis(url, {
    connectTimeout: 2000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    retryStrategy: times => Math.min(50 * 2 ** times, 2000) + Math.floor(Math.random() * 100)
  })
  let available = false
  let closing = false
  const unconfirmed = new Set<string>()

  function missed (keys: string[]): void {
    if (unconfirmed.has(EVERYTHING)) return
    if (unconfirmed.size + keys.length > MAX_UNCONFIRMED) {
      unconfirmed.clear()
      unconfirmed.add(EVERYTHING)
    } else {
      for (const key of keys) unconfirmed.add(key)
    }
  }

  /**
   * Repeats the invalidations Redis missed, including those that fail while this runs, until
   * none is left. A key is forgotten only once Redis confirmed it; if Redis goes away again,
   * the rest waits for the next time.
   */
  async function replay (): Promise<void> {
    while (unconfirmed.size > 0) {
      const keys = [...unconfirmed]
      if (keys.includes(EVERYTHING)) await invalidateKindsNow(allKindKeys())
      else await invalidateNow(keys)
      for (const key of keys) unconfirmed.delete(key)
      log.info({ keys: keys.includes(EVERYTHING) ? 'all' : keys.length }, 'replayed invalidations missed while Redis was unavailable')
    }
  }

  client.on('ready', () => {
    const bringUp = async (): Promise<void> => {
      await replay()
      // Synchronous from here: nothing can fail an invalidation between the check and the switch.
      if (unconfirmed.size > 0) return bringUp()
      if (!available) log.info('redis connected: cache reads and writes go to Redis')
      available = client.status === 'ready'
    }
    bringUp().catch(err => {
      log.warn({ err }, 'redis reconnected but could not be brought up to date: not using it')
      client.disconnect(true)
    })
  })
  client.on('error', err => {
    if (available) log.warn({ err }, 'redis unavailable: serving from PostgreSQL until it is back')
    available = false
  })
  // A connection that closes without an error (a proxy whose Redis is gone accepts, then hangs
  // up) takes Redis out of use too, until it is ready again.
  client.on('close', () => {
    if (available && !closing) log.warn('redis connection closed: serving from PostgreSQL until it is back')
    available = false
  })

  async function invalidateNow (keys: string[]): Promise<number> {
    if (keys.length === 0) return 0
    const done = await timed(client.eval(INVALIDATE, keys.length * 2, ...keys.flatMap(key => [key, `${key}#gen`]), GENERATION_TTL_MS))
    return Number(done)
  }

  async function invalidateKindsNow (kindKeys: string[]): Promise<void> {
    await timed(Promise.all(kindKeys.map(key => client.incr(key))))
  }

  /**
   * An invalidation failed (a timeout, say) while the connection looked fine: Redis may still
   * hold what it should have dropped, so stop reading it and reconnect; the replay of missed
   * invalidations runs before it is used again.
   */
  function suspect (): void {
    if (!available) return
    available = false
    log.warn('redis invalidation failed: not using Redis until missed invalidations are replayed')
    client.disconnect(true)
  }

  async function attempt<T> (work: () => Promise<T>, fallback: T): Promise<T> {
    if (!available) return fallback
    try {
      return await work()
    } catch (err) {
      if ((err as Error).message.includes('timed out')) log.debug({ err }, 'redis command timed out')
      return fallback
    }
  }

  return {
    /** Connects in the background: a Redis that is down at start does not stop the service. */
    start (): void {
      client.connect().catch(err => log.warn({ err }, 'redis unavailable at start: serving from PostgreSQL'))
    },
    get available () { return available },

    /**
     * Values of `keys` of one kind (null where missing, or stored under an older generation of
     * the kind), with the generations a fill must present; undefined when Redis failed.
     */
    read: (keys: string[], kindKey: string) => attempt(async () => {
      const raw = await timed(client.mget(...keys, ...keys.map(key => `${key}#gen`), kindKey))
      const kindGeneration = raw[keys.length * 2] ?? '0'
      const values = raw.slice(0, keys.length).map(value => {
        const bar = value?.indexOf('|') ?? -1
        return value == null || value.slice(0, bar) !== kindGeneration ? null : value.slice(bar + 1)
      })
      return { values, generations: raw.slice(keys.length, keys.length * 2), kindGeneration }
    }, undefined),

    fill: (key: string, kindKey: string, generation: string | null, kindGeneration: string, value: string, ttlMs: number) =>
      attempt(() => timed(client.eval(FILL, 3, key, `${key}#gen`, kindKey, generation ?? '', kindGeneration, value, ttlMs)), 0),

    /**
     * Stores a value without a generation check: only for a value the caller knows no processed
     * invalidation has touched since its query began. One that arrives later is applied by this
     * same client after this command, so it still removes the value.
     */
    put: (key: string, kindKey: string, value: string, ttlMs: number) =>
      attempt(() => timed(client.eval(PUT, 2, key, kindKey, value, ttlMs)), 0),

    /**
     * Drops `keys` (and bumps their generations). false: Redis did not confirm it (down, or no
     * reply in time): the keys are kept for the replay and Redis is out of use until then.
     */
    async invalidate (keys: string[]): Promise<boolean> {
      if (keys.length === 0) return true
      if (await attempt(() => invalidateNow(keys), 0) === keys.length) return true
      missed(keys)
      suspect()
      return false
    },

    /** Makes every entry of these kinds unreadable at once (O(1): they then expire unseen); false as above. */
    async invalidateKinds (kindKeys: string[]): Promise<boolean> {
      if (await attempt(async () => { await invalidateKindsNow(kindKeys); return true }, false)) return true
      // Every kind is bumped before Redis is read again: the simplest superset of these.
      unconfirmed.clear()
      unconfirmed.add(EVERYTHING)
      suspect()
      return false
    },

    /** No missed invalidation waits to be replayed. */
    upToDate: () => unconfirmed.size === 0,

    async close (): Promise<void> {
      closing = true
      // Bounded like every command: a hung Redis does not hold up the shutdown.
      await timed(client.quit()).catch(() => client.disconnect())
    },

    client
  }
}

export type RedisStore = ReturnType<typeof createRedisStore>
