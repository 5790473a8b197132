import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import type { TestUser } from '../helper.js'
import {
  allProbes, answers, buildInstance, cacheOf, differences, closedPort, ownRedis, redisClient, redisPrefix, seed, tcpProxy, until, write,
  type Instance, type Probe
} from './cache-helper.js'

// Redis is a fail-open tier: unreachable from the start, going away, coming back or slow, every
// request must answer as an instance without the cache does (no 5xx, no stale data), and
// invalidations Redis missed while away must be made up before it serves again. Redis here is
// always a redis-server of the test's own (or a proxy in front of one), never the shared one.

const prefix = redisPrefix(t)
t.jobs = 3

/** Every probe answered by the cached instance as by the uncached one: the differences. */
const compare = (cached: Instance, oracle: Instance, probes: Probe[]) => differences(cached.app, oracle.app, probes)

async function setup (t: Test, redisUrl: string, env: Record<string, string> = {}) {
  const oracle = await buildInstance(t, { CACHE: 'off' })
  const cached = await buildInstance(t, { REDIS_URL: redisUrl, REDIS_PREFIX: prefix.next(), ...env }, { databaseUrl: oracle.databaseUrl })
  const seeded = await seed(cached.app, 'f')
  const viewers = [undefined, seeded.users[2]]
  const probes = () => allProbes(oracle.app, viewers)
  return { oracle, cached, ...seeded, probes }
}

/** Writes through the API of every kind, and one plain SQL write; none may fail. */
async function writes (cached: Instance, users: TestUser[], slugs: string[], tag: string) {
  const [jake, jane, bob] = users as [TestUser, TestUser, TestUser]
  const app = cached.app
  await write(app, 'PUT', `/api/articles/${slugs[0] ?? ''}`, jake, { article: { body: `Body ${tag}` } })
  await write(app, 'PUT', '/api/user', jane, { user: { bio: `Bio ${tag}` } })
  await write(app, 'POST', `/api/articles/${slugs[3] ?? ''}/favorite`, bob)
  await write(app, 'POST', `/api/articles/${slugs[1] ?? ''}/comments`, bob, { comment: { body: `Comment ${tag}` } })
  await write(app, 'DELETE', `/api/profiles/${jake.username}/follow`, jane)
  await write(app, 'POST', '/api/articles', jane, { article: { title: `Article ${tag}`, description: 'd', body: 'b', tagList: [tag] } })
  await cached.sql('UPDATE articles SET title = $1 WHERE slug = $2', [`Title ${tag}`, slugs[2]])
  await write(app, 'POST', `/api/articles/${slugs[3] ?? ''}/favorite`, jake, undefined, 200)
}

/** Every request of a pass: statuses and slowest answer. */
async function timedPass (cached: Instance, probes: Probe[]) {
  let slowest = 0
  let errors = 0
  for (const { url, viewer } of probes) {
    const start = Date.now()
    const res = await cached.app.inject({ url, headers: viewer === undefined ? {} : { authorization: `Token ${viewer.token}` } })
    slowest = Math.max(slowest, Date.now() - start)
    if (res.statusCode >= 500) errors++
  }
  return { slowest, errors }
}

t.test('Redis unreachable from the start', async t => {
  const { oracle, cached, users, slugs, probes } = await setup(t, `redis://127.0.0.1:${await closedPort()}`)
  const list = await probes()
  t.same(await compare(cached, oracle, list), [], 'every read answers as without the cache')
  const { slowest, errors } = await timedPass(cached, list)
  t.equal(errors, 0, 'no 5xx')
  t.ok(slowest < 500, `no request waits for Redis (slowest ${slowest} ms)`)
  await writes(cached, users, slugs, 'closed')
  t.same(await compare(cached, oracle, await probes()), [], 'after writes of every kind: fresh')
  t.same(await compare(cached, oracle, await probes()), [], 'and again (cached in-process)')
})

t.test('Redis going away (killed) and coming back (empty)', async t => {
  const own = await ownRedis(t)
  const { oracle, cached, users, slugs, probes } = await setup(t, own.url)
  const redis = redisClient(t, own.url)
  await answers(cached.app, await probes())
  await answers(cached.app, await probes())
  t.ok(await redis.dbsize() > 0, 'Redis was filled')

  await own.stop()
  cacheOf(cached).cache.flushHot()
  t.same(await compare(cached, oracle, await probes()), [], 'Redis gone: every read answers as without the cache')
  await writes(cached, users, slugs, 'away')
  t.same(await compare(cached, oracle, await probes()), [], 'Redis gone: writes of every kind succeed and are seen')
  const { errors } = await timedPass(cached, await probes())
  t.equal(errors, 0, 'no 5xx while it is gone')

  await own.start()
  const back = redisClient(t, own.url)
  await until(async () => {
    cacheOf(cached).cache.flushHot()
    await answers(cached.app, (await probes()).slice(0, 5))
    return await back.dbsize() > 0
  }, 'the app to fill Redis again', 15000)
  t.pass('Redis in use again')
  cacheOf(cached).cache.flushHot()
  t.same(await compare(cached, oracle, await probes()), [], 'back: every read answers as without the cache')
  t.same(await compare(cached, oracle, await probes()), [], 'and again')
  await writes(cached, users, slugs, 'back')
  t.same(await compare(cached, oracle, await probes()), [], 'writes after it came back are seen')
})

/** The app's Redis behind a proxy whose connections are cut while the server keeps its data. */
async function partitioned (t: Test, env: Record<string, string> = {}) {
  const own = await ownRedis(t)
  const proxy = await tcpProxy(t, own.port)
  const setupResult = await setup(t, proxy.url, env)
  const { cached, probes } = setupResult
  const redis = redisClient(t, own.url)
  // On a loaded machine a command of the seed can time out, and Redis is then out of use until
  // it reconnects: read until it is filled.
  await until(async () => {
    cacheOf(cached).cache.flushHot()
    await answers(cached.app, await probes())
    return await redis.dbsize() > 20
  }, 'the app to fill Redis', 15000)
  await answers(cached.app, await probes())
  t.pass(`Redis was filled (${await redis.dbsize()} keys)`)
  /** Restores the proxy and waits until the app reads from Redis again. */
  async function reconnect () {
    const mark = proxy.sent.length
    await proxy.restore()
    await until(async () => {
      cacheOf(cached).cache.flushHot()
      await answers(cached.app, (await probes()).slice(0, 5))
      return proxy.sent.slice(mark).some(chunk => /MGET/i.test(chunk))
    }, 'the app to read from Redis again', 15000)
  }
  return { ...setupResult, proxy, redis, reconnect }
}

t.test('Redis partitioned away (its data intact) and back: missed invalidations are replayed', async t => {
  const { oracle, cached, users, slugs, probes, proxy, reconnect } = await partitioned(t)
  await proxy.cut()
  t.same(await compare(cached, oracle, await probes()), [], 'cut off: every read answers as without the cache')
  await writes(cached, users, slugs, 'partition')
  t.same(await compare(cached, oracle, await probes()), [], 'cut off: writes of every kind succeed and are seen')
  await reconnect()
  t.pass('Redis in use again')
  cacheOf(cached).cache.flushHot()
  t.same(await compare(cached, oracle, await probes()), [], 'back, in-process tier empty: nothing written while away is served stale from Redis')
})

t.test('Redis partitioned away during a bulk change (rows not named): nothing stale after', async t => {
  const { oracle, cached, probes, proxy, reconnect } = await partitioned(t)
  await proxy.cut()
  await cached.sql("UPDATE tags SET name = 'renamed-while-away' WHERE name = 'dragons'")
  await cached.sql("UPDATE users SET bio = 'bulk while away' WHERE id IN (SELECT id FROM users)")
  await cached.sql('TRUNCATE comments')
  t.same(await compare(cached, oracle, await probes()), [], 'cut off: every read answers as without the cache')
  await reconnect()
  cacheOf(cached).cache.flushHot()
  t.same(await compare(cached, oracle, await probes()), [], 'back, in-process tier empty: nothing stale from Redis')
})

t.test('a write while Redis comes back (during the replay of missed invalidations)', async t => {
  // Commands may take long here: the held replay must not time out (that is the next test).
  const { oracle, cached, users, slugs, probes, proxy } = await partitioned(t, { REDIS_COMMAND_TIMEOUT_MS: '5000' })
  const [jake, jane] = users as [TestUser, TestUser]
  await proxy.cut()
  await write(cached.app, 'PUT', `/api/articles/${slugs[0] ?? ''}`, jake, { article: { body: 'Written while away' } })
  await sleep(700) // reconnection attempts are refused: Redis is marked unavailable
  // Hold Redis's first invalidation after reconnecting (the replay) until a write is acknowledged.
  let release: () => void = () => {}
  const replaying = new Promise<void>(resolve => {
    proxy.state.onClientData = chunk => {
      if (!/INCR/i.test(chunk)) return undefined
      proxy.state.onClientData = undefined
      resolve()
      return new Promise<boolean>(resolve => { release = () => resolve(true) })
    }
  })
  await proxy.restore()
  await replaying
  await write(cached.app, 'PUT', '/api/user', jane, { user: { bio: 'Written during the replay' } })
  await write(cached.app, 'PUT', `/api/articles/${slugs[1] ?? ''}`, jake, { article: { body: 'Written during the replay' } })
  await sleep(200) // their notifications too
  release()
  const mark = proxy.sent.length
  await until(async () => {
    await answers(cached.app, [{ url: '/api/tags' }])
    cacheOf(cached).cache.flushHot()
    return proxy.sent.slice(mark).some(chunk => /MGET/i.test(chunk))
  }, 'the app to read from Redis again', 15000)
  cacheOf(cached).cache.flushHot()
  t.same(await compare(cached, oracle, await probes()), [], 'nothing written during the replay is served stale from Redis')
})

t.test('Redis drops the connection in the middle of the replay', async t => {
  const { oracle, cached, users, slugs, probes, proxy } = await partitioned(t)
  const [jake, jane] = users as [TestUser, TestUser]
  await proxy.cut()
  await write(cached.app, 'PUT', `/api/articles/${slugs[0] ?? ''}`, jake, { article: { body: 'Written while away' } })
  await write(cached.app, 'PUT', '/api/user', jane, { user: { bio: 'Written while away' } })
  await sleep(700)
  let dropped = false
  proxy.state.onClientData = chunk => {
    if (!/INCR/i.test(chunk)) return undefined
    proxy.state.onClientData = undefined
    dropped = true
    return Promise.resolve(false) // never reaches Redis; the connection is closed
  }
  await proxy.restore()
  const mark = proxy.sent.length
  await until(async () => {
    await answers(cached.app, [{ url: '/api/tags' }])
    cacheOf(cached).cache.flushHot()
    return dropped && proxy.sent.slice(mark).some(chunk => /MGET/i.test(chunk))
  }, 'the app to read from Redis again', 15000)
  cacheOf(cached).cache.flushHot()
  t.same(await compare(cached, oracle, await probes()), [], 'nothing written while away is served stale from Redis')
})

t.test('slow Redis: answers within a bound, and correct', async t => {
  const { oracle, cached, users, slugs, probes, proxy } = await partitioned(t, { REDIS_COMMAND_TIMEOUT_MS: '40' })
  proxy.state.delayMs = 400
  cacheOf(cached).cache.flushHot()
  const list = await probes()
  const { slowest, errors } = await timedPass(cached, list)
  t.equal(errors, 0, 'no 5xx')
  t.ok(slowest < 1500, `every request answered within 1.5 s (slowest ${slowest} ms, commands time out after 40 ms)`)
  t.same(await compare(cached, oracle, list), [], 'every read answers as without the cache')
  await writes(cached, users, slugs, 'slow')
  t.same(await compare(cached, oracle, await probes()), [], 'writes while slow succeed and are seen')
  proxy.state.delayMs = 0
  await sleep(600) // what was sent while slow has arrived
  cacheOf(cached).cache.flushHot()
  t.same(await compare(cached, oracle, await probes()), [], 'fast again, in-process tier empty: nothing stale from Redis')
})

t.test('Redis down behind a proxy that still accepts connections: known to be down', async t => {
  // The connection opens, then closes at once (no error): Redis is as gone as when refused, and
  // reads should not keep trying it (each such try is counted as a Redis error).
  const own = await ownRedis(t)
  const proxy = await tcpProxy(t, own.port)
  const cached = await buildInstance(t, { REDIS_URL: proxy.url, REDIS_PREFIX: prefix.next() })
  const { slugs } = await seed(cached.app, 'g')
  const list = slugs.map(slug => ({ url: `/api/articles/${slug}` }))
  await answers(cached.app, list)
  const errors = () => Object.values(cacheOf(cached).metrics.snapshot()).reduce((n, c) => n + c.redisErrors, 0)
  await own.stop()
  await sleep(1000)
  const before = errors()
  cacheOf(cached).cache.flushHot()
  const got = await answers(cached.app, list)
  t.ok([...got.values()].every(answer => answer.startsWith('200 ')), 'every read answers')
  t.equal(errors() - before, 0, `a second after Redis went away, reads no longer try it (${errors() - before} Redis errors for ${list.length} reads)`)
})
