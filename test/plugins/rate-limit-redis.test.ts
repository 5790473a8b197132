import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { closedPort, ownRedis, redisClient, redisPrefix, SHARED_REDIS_URL, tcpProxy, until } from '../cache/cache-helper.js'
import { build } from '../helper.js'
import { assertLimited, clearOfWindowEdge, statuses, wrongLogin } from './rate-limit-helper.js'

// With REDIS_URL the counts are shared by every instance on the same REDIS_PREFIX; a Redis that
// is down or hangs never fails or holds up a request: counting goes on in memory. The tests that
// break Redis use a redis-server (or a proxy) of their own.
// Two at a time, on small pools: the shared PostgreSQL serves every test file at once.
t.jobs = 2
const prefix = redisPrefix(t)
const SMALL_POOL = { PG_POOL_MAX: '2' }

/** The limiter's counts in Redis under a prefix: client key → count (summed over windows). */
async function counts (redis: Redis, redisPrefix: string): Promise<Record<string, number>> {
  const found: Record<string, number> = {}
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}:rate:*`, 'COUNT', 1000)
    for (const key of keys) {
      const client = key.split(':').slice(3).join(':')
      found[client] = (found[client] ?? 0) + Number(await redis.get(key))
    }
    cursor = next
  } while (cursor !== '0')
  return found
}

/** Waits until the instance counts in Redis: a request from an address of its own shows up there. */
async function countingInRedis (app: FastifyInstance, redis: Redis, redisPrefix: string, address: string) {
  await until(async () => {
    await app.inject({ url: '/api/tags', remoteAddress: address })
    return (await counts(redis, redisPrefix))[address] !== undefined
  }, `${address} counted in Redis`, 15000)
}

async function instances (t: Test, redisUrl: string, env: Record<string, string>) {
  const redisPrefix = prefix.next()
  const settings = { REDIS_URL: redisUrl, REDIS_PREFIX: redisPrefix, CACHE: 'off', ...SMALL_POOL, ...env }
  const [a, b] = [await build(t, settings), await build(t, settings)]
  return { a, b, redisPrefix }
}

t.test('two instances on one Redis prefix share the login count (each login waits for Redis)', async t => {
  const redis = redisClient(t)
  const { a, b, redisPrefix } = await instances(t, SHARED_REDIS_URL, { AUTH_RATE_LIMIT_MAX: '3', RATE_LIMIT_MAX: '1000' })
  await countingInRedis(a, redis, redisPrefix, '10.0.0.101')
  await countingInRedis(b, redis, redisPrefix, '10.0.0.102')
  await clearOfWindowEdge()
  t.same(await statuses(a, 2, wrongLogin()), [401, 401], 'two attempts on one instance')
  t.same(await statuses(b, 1, wrongLogin()), [401], 'the third on the other')
  const limited = await b.inject(wrongLogin())
  assertLimited(t, limited)
  assertLimited(t, await a.inject(wrongLogin()))
  t.equal((await counts(redis, redisPrefix))['auth 127.0.0.1'], 5, 'every attempt counted once, in Redis')
})

t.test('two instances share the per-address count (sent in batches: another instance\'s hits show within ~100 ms)', async t => {
  const redis = redisClient(t)
  const { a, b, redisPrefix } = await instances(t, SHARED_REDIS_URL, { RATE_LIMIT_MAX: '4' })
  await countingInRedis(a, redis, redisPrefix, '10.0.0.103')
  await countingInRedis(b, redis, redisPrefix, '10.0.0.104')
  await clearOfWindowEdge()
  const client = { url: '/api/tags', remoteAddress: '10.0.0.105' }
  t.same(await statuses(a, 3, client), [200, 200, 200], 'three requests to one instance')
  await until(async () => (await counts(redis, redisPrefix))['10.0.0.105'] === 3, 'the first instance\'s count in Redis')
  t.equal((await b.inject(client)).statusCode, 200, 'the fourth, to the other instance')
  await until(async () => (await counts(redis, redisPrefix))['10.0.0.105'] === 4, 'the second instance\'s count in Redis')
  await sleep(50)
  assertLimited(t, await b.inject(client))
})

t.test('Redis unreachable from the start: counted in memory, every request answered', async t => {
  const app = await build(t, { REDIS_URL: `redis://127.0.0.1:${await closedPort()}`, REDIS_PREFIX: prefix.next(), CACHE: 'off', ...SMALL_POOL, AUTH_RATE_LIMIT_MAX: '2' })
  await clearOfWindowEdge()
  const started = Date.now()
  t.same(await statuses(app, 3, wrongLogin()), [401, 401, 429], 'the limit holds, in memory')
  t.same(await statuses(app, 5, { url: '/api/tags' }), Array(5).fill(200), 'reads are served')
  t.ok(Date.now() - started < 5000, `no request waits for Redis (${Date.now() - started} ms for 8)`)
})

t.test('Redis going away and coming back (empty)', async t => {
  const own = await ownRedis(t)
  const redis = redisClient(t, own.url)
  const redisPrefix = prefix.next()
  const app = await build(t, { REDIS_URL: own.url, REDIS_PREFIX: redisPrefix, CACHE: 'off', ...SMALL_POOL, AUTH_RATE_LIMIT_MAX: '3', RATE_LIMIT_MAX: '1000' })
  await countingInRedis(app, redis, redisPrefix, '10.0.0.106')
  await clearOfWindowEdge(30_000)
  t.same(await statuses(app, 1, wrongLogin()), [401], 'one attempt, counted in Redis')
  t.equal((await counts(redis, redisPrefix))['auth 127.0.0.1'], 1)

  await own.stop()
  const started = Date.now()
  const codes = await statuses(app, 4, wrongLogin())
  t.same(codes, [401, 401, 429, 429], 'Redis gone: counting goes on in memory from the count it had')
  t.same(await statuses(app, 5, { url: '/api/tags' }), Array(5).fill(200), 'reads are served')
  t.ok(Date.now() - started < 5000, `no request waits for Redis (${Date.now() - started} ms for 9)`)

  await own.start()
  const back = redisClient(t, own.url)
  await countingInRedis(app, back, redisPrefix, '10.0.0.107')
  assertLimited(t, await app.inject(wrongLogin()))
  t.ok(((await counts(back, redisPrefix))['auth 127.0.0.1'] ?? 0) >= 5, 'the attempts made while it was away are in Redis again')
})

t.test('Redis hanging (every command held): each request waits at most one command timeout', async t => {
  const own = await ownRedis(t)
  const proxy = await tcpProxy(t, own.port)
  const redis = redisClient(t, own.url)
  const redisPrefix = prefix.next()
  const app = await build(t, { REDIS_URL: proxy.url, REDIS_PREFIX: redisPrefix, CACHE: 'off', ...SMALL_POOL, AUTH_RATE_LIMIT_MAX: '3', RATE_LIMIT_MAX: '1000' })
  await countingInRedis(app, redis, redisPrefix, '10.0.0.108')
  await clearOfWindowEdge()
  proxy.state.onClientData = () => new Promise<boolean>(() => {})
  const slowest = { ms: 0 }
  const codes: number[] = []
  for (let i = 0; i < 6; i++) {
    const started = Date.now()
    codes.push((await app.inject(i < 5 ? wrongLogin() : { url: '/api/tags' })).statusCode)
    slowest.ms = Math.max(slowest.ms, Date.now() - started)
  }
  t.same(codes, [401, 401, 401, 429, 429, 200], 'the limit holds, in memory; reads are served')
  // A request waiting on a held command would never answer; a loaded machine may take a while anyway.
  t.ok(slowest.ms < 5000, `no request hangs with Redis (slowest ${slowest.ms} ms)`)
})
