// Request counters for @fastify/rate-limit: fixed windows, shared through Redis when there is
// one, counted in memory while Redis is unreachable or slow (a limit never fails a request).
import type { FastifyBaseLogger } from 'fastify'
import { Redis } from 'ioredis'
import { within } from './deadline.js'

// INCRBY, with the window's lifetime set by whoever creates the key (once, atomically).
const HIT = `local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n`
// After a command timed out, Redis is left alone this long (a hanging Redis costs one timeout a
// second, not one per request).
const PAUSE_AFTER_TIMEOUT_MS = 1000
// Entries (clients in the current window) kept in memory at most; the oldest go first.
const MAX_ENTRIES = 100_000
// Lets instances whose clocks differ a little still find the key of the window they are in.
const EXPIRY_SLACK_MS = 5000

interface Count {
  /** end of the window (epoch ms) */
  ends: number
  /** the shared total last seen in Redis (all instances) */
  synced: number
  /** this instance's hits on their way to Redis */
  sending: number
  /** this instance's hits not yet sent */
  pending: number
}

interface Hit { current: number, ttl: number }
type Callback = (error: Error | null, result?: Hit) => void

type LimiterRedis = Redis & {
  rateHit: (key: string, increment: number, ttlMs: number) => Promise<number>
}

export interface RateCountersOptions {
  /** unset: counts are per instance */
  redisUrl?: string
  /** Redis keys are `<prefix>:<window>:<client key>` */
  prefix: string
  commandTimeoutMs: number
  /** how often the batched (global) counts go to Redis */
  syncEveryMs: number
  log: FastifyBaseLogger
}

/**
 * The counts of one service instance. `hit` (the per-address limit, on every request) counts
 * locally and sends the hits to Redis in one batch every `syncEveryMs`, so another instance's
 * hits are seen that much later, and no request waits for Redis. `Store` is the store class
 * @fastify/rate-limit takes, for the route limits (login/register, writes): each hit waits for
 * Redis, so the few requests they count are counted exactly across instances.
 */
export function createRateCounters ({ redisUrl, prefix, commandTimeoutMs, syncEveryMs, log }: RateCountersOptions) {
  const counts = new Map<string, Count>()
  const redis = redisUrl === undefined ? undefined : connect(redisUrl)
  let pausedUntil = 0
  let timer: NodeJS.Timeout | undefined
  let up = false
  let closing = false
  // One log line per change of state, never one per request.
  redis?.on('ready', () => {
    if (!up) log.info('rate limit: counting in Redis, shared by every instance')
    up = true
  })
  const down = (err?: Error) => {
    if (up && !closing) log.warn({ err }, 'rate limit: Redis unavailable, counting in memory until it is back')
    up = false
  }
  redis?.on('error', down)
  redis?.on('close', () => down())

  const usable = () => redis !== undefined && redis.status === 'ready' && Date.now() >= pausedUntil

  function entry (key: string, now: number, windowMs: number): Count {
    let count = counts.get(key)
    if (count === undefined || count.ends <= now) {
      // (Re)inserted last, so the map runs from the oldest window start: when full, the first
      // entry is the one to forget (O(1), however many addresses an attacker rotates through).
      if (count !== undefined) counts.delete(key)
      else if (counts.size >= MAX_ENTRIES) counts.delete(counts.keys().next().value as string)
      count = { ends: (Math.floor(now / windowMs) + 1) * windowMs, synced: 0, sending: 0, pending: 0 }
      counts.set(key, count)
    }
    return count
  }

  /** Sends `count`'s pending hits; resolves to the shared total, or undefined if Redis failed. */
  async function send (key: string, count: Count, windowMs: number): Promise<number | undefined> {
    const increment = count.pending
    count.pending = 0
    count.sending += increment
    const window = count.ends / windowMs - 1
    try {
      // Judged after the socket is read (see deadline.ts): a stall of this process is not a slow Redis.
      const total = await within((redis as LimiterRedis).rateHit(`${prefix}:${window}:${key}`, increment, count.ends - Date.now() + EXPIRY_SLACK_MS),
        commandTimeoutMs, `Command timed out (no reply within ${commandTimeoutMs} ms)`)
      count.synced = Math.max(count.synced, total)
      return total
    } catch (err) {
      // Kept, and sent with the next hits once Redis answers again.
      count.pending += increment
      if ((err as Error).message.includes('timed out')) {
        if (Date.now() >= pausedUntil) log.warn('rate limit: a Redis command timed out: counting in memory for a second')
        pausedUntil = Date.now() + PAUSE_AFTER_TIMEOUT_MS
      }
      return undefined
    } finally {
      count.sending -= increment
    }
  }

  function flush (windowMs: number): void {
    timer = undefined
    if (!usable()) return schedule(windowMs)
    const now = Date.now()
    let waiting = false
    for (const [key, count] of counts) {
      if (count.ends <= now) {
        if (count.sending === 0) counts.delete(key)
      } else if (count.pending > 0) {
        // One batch per key in flight, so the totals Redis returns arrive in order.
        if (count.sending === 0) send(key, count, windowMs).catch(() => {})
        else waiting = true
      }
    }
    if (waiting) schedule(windowMs)
  }

  function schedule (windowMs: number): void {
    if (timer !== undefined || redis === undefined) return
    timer = setTimeout(flush, syncEveryMs, windowMs)
    timer.unref()
  }

  const local = (count: Count, now: number): Hit =>
    ({ current: count.synced + count.sending + count.pending, ttl: count.ends - now })

  /** Counts a hit now, synchronously: the count seen here, another instance's up to a batch late. */
  function hit (key: string, windowMs: number): Hit {
    const now = Date.now()
    const count = entry(key, now, windowMs)
    count.pending++
    schedule(windowMs)
    return local(count, now)
  }

  function exact (key: string, callback: Callback, windowMs: number): void {
    const now = Date.now()
    const count = entry(key, now, windowMs)
    count.pending++
    if (!usable()) return callback(null, local(count, now))
    send(key, count, windowMs).then(total => {
      const at = Date.now()
      callback(null, total === undefined ? local(count, at) : { current: total, ttl: count.ends - at })
    }, () => callback(null, local(count, Date.now())))
  }

  // For @fastify/rate-limit's route limits: each hit waits for Redis.
  class Store {
    incr (key: string, callback: Callback, timeWindow: number): void {
      exact(key, callback, timeWindow)
    }

    child (): Store {
      return this
    }
  }

  return {
    hit,
    Store,
    /** Connects in the background: a Redis that is down at start only means counting in memory. */
    start (): void {
      redis?.connect().catch(err => log.warn({ err }, 'rate limit: Redis unavailable at start, counting in memory'))
    },
    async close (): Promise<void> {
      if (timer !== undefined) clearTimeout(timer)
      if (redis === undefined) return
      closing = true
      // Bounded like every command: a hung Redis does not hold up the shutdown.
      await within(redis.quit(), commandTimeoutMs, 'QUIT timed out').catch(() => redis.disconnect())
    }
  }
}

/** A client of its own, fail-fast like the cache's: no queue while disconnected (and commands time out in send). */
function connect (url: string): LimiterRedis {
  const client = new Redis(url, {
    connectTimeout: 2000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    retryStrategy: times => Math.min(50 * 2 ** times, 2000) + Math.floor(Math.random() * 100)
  })
  client.defineCommand('rateHit', { numberOfKeys: 1, lua: HIT })
  return client as LimiterRedis
}
