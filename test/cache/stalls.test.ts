import { performance } from 'node:perf_hooks'
import t from 'tap'
import { buildInstance, cacheOf, ownRedis, redisPrefix, seed, tcpProxy, until, write } from './cache-helper.js'
import type { TestUser } from '../helper.js'

// A stall of this process (a long synchronous task, or a loaded machine not giving it the CPU)
// is not a failure of what it waits for: a reply that arrived during the stall is not a timeout,
// so a healthy Redis stays in use and a live instance is not dropped (src/lib/deadline.ts). What
// really does not answer still times out.

const prefix = redisPrefix(t)

/** Holds this process's event loop for `ms`, as a long synchronous task would. */
function stall (ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) { /* busy */ }
}

t.test('Redis answering while this process is stalled past the command timeout stays in use', async t => {
  const own = await ownRedis(t)
  const a = await buildInstance(t, { REDIS_URL: own.url, REDIS_PREFIX: prefix.next(), REDIS_COMMAND_TIMEOUT_MS: '50' })
  const { cache, redis } = cacheOf(a)
  if (redis === undefined) throw new Error('no Redis')
  await until(() => redis.available, 'Redis to be in use')
  let reconnections = 0
  redis.client.on('ready', () => { reconnections++ })

  for (let i = 0; i < 5; i++) {
    // The invalidation is on the wire; its reply arrives while the loop is held 4x the timeout.
    const invalidating = cache.invalidate([`article:${i}`, `user:${i}`])
    stall(200)
    t.equal(await invalidating, true, `invalidation ${i}: confirmed by Redis although the loop looked only after 200 ms`)
  }
  const reading = redis.read(['nothing:1', 'nothing:2'], 'nothing#kind')
  stall(200)
  t.not(await reading, undefined, 'a read answered during a stall is a read, not a Redis error')
  t.ok(redis.available, 'Redis still in use')
  t.ok(redis.upToDate(), 'no invalidation waits to be replayed')
  t.equal(reconnections, 0, 'the connection was never dropped')
})

t.test('Redis that really does not answer is still taken out of use, stalled or not', async t => {
  const own = await ownRedis(t)
  const proxy = await tcpProxy(t, own.port)
  const a = await buildInstance(t, { REDIS_URL: proxy.url, REDIS_PREFIX: prefix.next(), REDIS_COMMAND_TIMEOUT_MS: '50' })
  const { cache, redis } = cacheOf(a)
  if (redis === undefined) throw new Error('no Redis')
  await until(() => redis.available, 'Redis to be in use')
  // From the first invalidation on, nothing reaches Redis (a hung server, a silent network).
  proxy.state.onClientData = chunk => /EVAL/i.test(chunk) ? new Promise<boolean>(() => {}) : undefined

  const invalidating = cache.invalidate(['article:1'])
  stall(200)
  t.equal(await invalidating, false, 'the invalidation was not confirmed')
  t.notOk(redis.available, 'Redis is out of use until the missed invalidation is replayed')
  t.notOk(redis.upToDate(), 'the invalidation waits to be replayed')
})

t.test('a service whose Redis hangs still shuts down', async t => {
  const own = await ownRedis(t)
  const proxy = await tcpProxy(t, own.port)
  const a = await buildInstance(t, { REDIS_URL: proxy.url, REDIS_PREFIX: prefix.next(), REDIS_COMMAND_TIMEOUT_MS: '50' })
  const { redis } = cacheOf(a)
  if (redis === undefined) throw new Error('no Redis')
  await until(() => redis.available, 'Redis to be in use')
  proxy.state.onClientData = () => new Promise<boolean>(() => {})
  t.equal(await redis.read(['nothing:1'], 'nothing#kind'), undefined, 'a read times out (a miss)')
  const closing = Date.now()
  await a.app.close()
  t.ok(Date.now() - closing < 3000, `the service closed in ${Date.now() - closing} ms (QUIT is bounded like every command)`)
})

t.test('an instance whose acknowledgement arrived while this process was stalled is not dropped', async t => {
  const env = { CACHE_PEER_TIMEOUT_MS: '200' }
  const a = await buildInstance(t, env)
  const b = await buildInstance(t, env, { databaseUrl: a.databaseUrl })
  await until(() => cacheOf(a).peers.others().includes(cacheOf(b).peers.id), 'A to know B')
  const { users, slugs } = await seed(a.app, 's')
  const [jake] = users as [TestUser]
  const url = `/api/articles/${slugs[0] as string}`
  // B and A share this process: hold the loop right after B has sent its acknowledgement, so it
  // reaches A's socket while A cannot read it, and A's deadline passes meanwhile. B acknowledges
  // 20 ms late, by when A has its own barrier back (only B's ack is missing when A looks), and
  // from the check phase: the next thing the loop does after the stall is run the due timers.
  const listener = cacheOf(b).listener
  const notify = listener.notify.bind(listener)
  let stalls = 0
  listener.notify = async (channel, payload) => {
    if (!payload.includes('"ack"')) return notify(channel, payload)
    await new Promise(resolve => setTimeout(resolve, 20))
    await new Promise(resolve => setImmediate(resolve))
    const sent = notify(channel, payload)
    stalls++
    stall(500)
    return sent
  }
  const before = cacheOf(a).peers.timeouts
  for (let i = 0; i < 3; i++) {
    await write(a.app, 'PUT', url, jake, { article: { body: `Stalled ${i}` } })
  }
  t.ok(stalls >= 3, `B acknowledged each write, then the process stalled 500 ms (${stalls} stalls)`)
  t.equal(cacheOf(a).peers.timeouts, before, 'no write counted B as not answering')
  t.same(cacheOf(a).peers.others(), [cacheOf(b).peers.id], 'A still waits for B')
})
