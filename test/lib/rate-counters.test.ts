import { performance } from 'node:perf_hooks'
import type { FastifyBaseLogger } from 'fastify'
import t from 'tap'
import { createRateCounters } from '../../src/lib/rate-counters.js'
import { redisClient, redisPrefix, SHARED_REDIS_URL, until } from '../cache/cache-helper.js'

// The rate counters' Redis deadline (src/lib/rate-counters.ts): a stall of this process longer
// than the command timeout is not a slow Redis, so counting does not fall back to memory for it.

const prefix = redisPrefix(t)
const WINDOW_MS = 60_000

/** Holds this process's event loop for `ms`, as a long synchronous task would. */
function stall (ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) { /* busy */ }
}

t.test('a count answered by Redis while this process is stalled is Redis\'s count', async t => {
  const warnings: string[] = []
  const quiet = () => {}
  const log = {
    info: quiet,
    debug: quiet,
    trace: quiet,
    error: quiet,
    fatal: quiet,
    warn: (...args: unknown[]) => { warnings.push(String(args.find(arg => typeof arg === 'string'))) }
  } as unknown as FastifyBaseLogger
  const keyPrefix = `${prefix.next()}:rate`
  const counters = createRateCounters({ redisUrl: SHARED_REDIS_URL, prefix: keyPrefix, commandTimeoutMs: 50, syncEveryMs: 1000, log })
  counters.start()
  t.teardown(() => counters.close())
  // 100 hits counted by other instances: an answer above 100 came from Redis, not from memory.
  const redis = redisClient(t)
  const window = Math.floor(Date.now() / WINDOW_MS)
  for (const w of [window, window + 1]) await redis.set(`${keyPrefix}:${w}:client`, 100, 'PX', 2 * WINDOW_MS)
  const store = new counters.Store()
  const incr = () => new Promise<number>((resolve, reject) => {
    store.incr('client', (err, hit) => { if (err !== null || hit === undefined) reject(err); else resolve(hit.current) }, WINDOW_MS)
  })
  await until(async () => await incr() > 100, 'counting in Redis')

  for (let i = 0; i < 3; i++) {
    // Another 100 hits elsewhere: only Redis knows of them.
    const seen = await incr()
    for (const w of [window, window + 1]) await redis.incrby(`${keyPrefix}:${w}:client`, 100)
    const counting = incr()
    stall(200)
    const got = await counting
    t.ok(got > seen + 100, `hit ${i}: counted in Redis (${got} after ${seen}) although the loop looked only after 200 ms`)
  }
  t.same(warnings.filter(w => /timed out/.test(w)), [], 'no command counted as timed out: no fall back to memory')
})
