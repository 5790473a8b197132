import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import type { TestUser } from '../helper.js'
import {
  allProbes, answers, buildInstance, cacheOf, differences, checkWrite, killListener, listenProxy, redisPrefix, seed, SHARED_REDIS_URL, until,
  write, type Instance, type Probe
} from './cache-helper.js'

// The cache is only as fresh as its change notifications. When the LISTEN connection is killed
// (pg_terminate_backend on this test's own backend), requests must keep answering correctly (the
// cache bypasses itself while not listening), the listener must reconnect and drop everything
// cached before the gap (in-process, and in Redis: changes made during the gap were never
// announced), and changes made after it must be seen again.

const prefix = redisPrefix(t)
t.jobs = 2

/** Every probe answered by the cached instance as by the uncached one: the differences. */
const compare = (cached: Instance, oracle: Instance, probes: Probe[]) => differences(cached.app, oracle.app, probes)

async function setup (t: Test, env: Record<string, string>, listenThroughProxy = false) {
  const oracle = await buildInstance(t, { CACHE: 'off' })
  const listen = listenThroughProxy ? await listenProxy(t, oracle.databaseUrl) : undefined
  const cached = await buildInstance(t, { ...env, ...(listen ? { DATABASE_LISTEN_URL: listen.url } : {}) }, { databaseUrl: oracle.databaseUrl })
  const seeded = await seed(cached.app, 'l')
  const probes = () => allProbes(oracle.app, [undefined, seeded.users[2]])
  await answers(cached.app, await probes())
  await answers(cached.app, await probes())
  return { oracle, cached, listen, probes, ...seeded }
}

const modes: Array<[string, () => Record<string, string>]> = [
  ['Redis', () => ({ REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: prefix.next() })],
  ['in-process only', () => ({})]
]

for (const [mode, env] of modes) {
  t.test(`LISTEN connection killed: bypass, reconnect, flush (${mode})`, async t => {
    const { oracle, cached, probes, users, slugs } = await setup(t, env())
    const [jake, jane] = users as [TestUser, TestUser]
    const { listener } = cacheOf(cached)
    // A change no notification announces (triggers do not fire for a replica session): only a
    // flush of everything cached can make it visible.
    const url = `/api/articles/${slugs[1] ?? ''}`
    await cached.sql('SET session_replication_role = replica')
    await cached.sql("UPDATE articles SET body = 'Silent change' WHERE slug = $1", [slugs[1]])
    await cached.sql('RESET session_replication_role')
    await sleep(100)
    t.notMatch((await answers(cached.app, [{ url, viewer: jake }])).get(`${jake.username} GET ${url}`), /Silent change/,
      'an unannounced change is not seen while the cache is trusted')

    const pid = await killListener(cached)
    await until(() => !listener.ready, 'the listener to notice')
    t.pass(`killed backend ${pid}: not listening`)
    // While not listening, plain SQL changes are not announced: only bypassing the cache keeps
    // reads right. (The listener reconnects within ~100 ms, so this window is short.)
    await cached.sql('UPDATE articles SET body = $1 WHERE slug = $2', ['Changed while not listening', slugs[0]])
    const during = await compare(cached, oracle, (await probes()).slice(0, 20))
    t.same(during, [], 'reads right after the kill answer as without the cache')
    await write(cached.app, 'PUT', '/api/user', jane, { user: { bio: 'Written around the gap' } })

    await until(() => listener.ready, 'the listener to reconnect')
    t.pass('reconnected')
    const database = new URL(cached.databaseUrl).pathname.slice(1)
    const [session] = await cached.sql<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = $2',
      [`gravity-bff-changes ${cacheOf(cached).peers.id}`, database])
    t.not(session?.pid, pid, 'on a new backend')
    await sleep(100) // the flush that follows a reconnect
    t.match((await answers(cached.app, [{ url, viewer: jake }])).get(`${jake.username} GET ${url}`), /Silent change/,
      'after the reconnect, everything cached before the gap was dropped: the unannounced change is seen')
    t.same(await compare(cached, oracle, await probes()), [], 'after reconnecting: every read answers as without the cache')
    cacheOf(cached).cache.flushHot()
    t.same(await compare(cached, oracle, await probes()), [], 'and with the in-process tier emptied (Redis)')

    await t.test('plain SQL changes after the reconnect are seen within 1 s', async t => {
      const list = (await probes()).slice(0, 30)
      await checkWrite(t, { cached, oracle, deadlineMs: 1000, probes: async () => list }, async () => {
        await cached.sql('UPDATE articles SET title = $1 WHERE slug = $2', ['Retitled after the reconnect', slugs[0]])
        await cached.sql('UPDATE users SET bio = $1 WHERE username = $2', ['Rebio after the reconnect', jake.username])
      })
    })
  })

  t.test(`changes made while nobody listened are not served stale afterwards (${mode})`, async t => {
    const { oracle, cached, listen, probes, users, slugs } = await setup(t, env(), true)
    const [jake, jane, bob] = users as [TestUser, TestUser, TestUser]
    const { listener } = cacheOf(cached)
    if (listen === undefined) throw new Error('no proxy')
    // Keep it down: the proxy to PostgreSQL refuses the listener's reconnections.
    listen.proxy.refuse()
    await killListener(cached)
    await until(() => !listener.ready, 'the listener to notice')
    await cached.sql('UPDATE articles SET title = $1, body = $1 WHERE slug = $2', ['Changed while nobody listened', slugs[0]])
    await cached.sql('UPDATE users SET bio = $1 WHERE username = $2', ['Bio while nobody listened', jake.username])
    await cached.sql('INSERT INTO favorites (user_id, article_id) SELECT u.id, a.id FROM users u, articles a WHERE u.username = $1 AND a.slug = $2',
      [bob.username, slugs[3]])
    await cached.sql("INSERT INTO comments (article_id, author_id, body) SELECT a.id, u.id, 'Comment while nobody listened' FROM users u, articles a WHERE u.username = $1 AND a.slug = $2",
      [bob.username, slugs[0]])
    await cached.sql("UPDATE tags SET name = 'renamed-while-nobody-listened' WHERE name = 'zoo'")
    await cached.sql('DELETE FROM follows WHERE follower_id = (SELECT id FROM users WHERE username = $1)', [bob.username])
    await write(cached.app, 'PUT', `/api/articles/${slugs[1] ?? ''}`, jake, { article: { body: 'API write while nobody listened' } })
    t.same(await compare(cached, oracle, await probes()), [], 'not listening: every read answers as without the cache')
    await write(cached.app, 'POST', `/api/articles/${slugs[2] ?? ''}/favorite`, jane)
    t.same(await compare(cached, oracle, await probes()), [], 'still not listening, after an API write: same')
    t.notOk(listener.ready, 'still not listening')

    await listen.proxy.restore()
    await until(() => listener.ready, 'the listener to reconnect', 15000)
    await sleep(100) // the flush that follows a reconnect
    t.same(await compare(cached, oracle, await probes()), [], 'listening again: nothing changed during the gap is served stale')
    cacheOf(cached).cache.flushHot()
    t.same(await compare(cached, oracle, await probes()), [], 'nor from Redis, with the in-process tier emptied')
  })
}

t.test('killed again and again under load: every request answers, and right', async t => {
  const { oracle, cached, probes } = await setup(t, modes[0]?.[1]() ?? {})
  const list = (await probes()).slice(0, 20)
  const expected = await answers(oracle.app, list)
  const control = { stop: false }
  const problems: string[] = []
  let requests = 0
  const readers = Array.from({ length: 4 }, async () => {
    while (!control.stop) {
      const got = await answers(cached.app, list)
      requests += list.length
      for (const [k, v] of got) if (v !== expected.get(k)) problems.push(`${k}: ${v.slice(0, 200)}`)
      await new Promise(resolve => setImmediate(resolve))
    }
  })
  for (let i = 0; i < 3; i++) {
    await killListener(cached)
    await until(() => !cacheOf(cached).listener.ready, 'the listener to notice')
    await until(() => cacheOf(cached).listener.ready, 'the listener to reconnect')
    await sleep(50)
  }
  control.stop = true
  await Promise.all(readers)
  t.same(problems.slice(0, 10), [], `${requests} reads over 3 kills: all answered as without the cache`)
})
