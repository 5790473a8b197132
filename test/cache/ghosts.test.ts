import { randomUUID } from 'node:crypto'
import pg from 'pg'
import t from 'tap'
import { LISTENER_APPLICATION_NAME } from '../../src/db/change-listener.js'
import type { TestUser } from '../helper.js'
import { buildInstance, cacheOf, killListener, listenProxy, seed, until, write, type Instance } from './cache-helper.js'

// A write waits for the other live instances (src/cache/peers.ts), and for nothing else: not for
// one that left while this instance was not listening, not again and again for a LISTEN session
// with no live instance behind it, and a LISTEN session of its own that restarts under writes in
// flight neither loses their barriers nor turns into waiting for somebody.

const ENV = { CACHE_PEER_TIMEOUT_MS: '300' }
const peersOf = (instance: Instance) => cacheOf(instance).peers

async function rejoin (instance: Instance): Promise<void> {
  await killListener(instance)
  await until(() => !cacheOf(instance).listener.ready, 'the instance to notice')
  await until(() => cacheOf(instance).listener.ready && peersOf(instance).joined, 'the instance to rejoin')
}

t.test('an instance that left while this one was not listening is not waited for once it rejoins', async t => {
  const a0 = await buildInstance(t, { CACHE: 'off' })
  const listen = await listenProxy(t, a0.databaseUrl)
  const a = await buildInstance(t, { ...ENV, DATABASE_LISTEN_URL: listen.url }, { databaseUrl: a0.databaseUrl })
  const b = await buildInstance(t, ENV, { databaseUrl: a.databaseUrl })
  await until(() => peersOf(a).others().includes(peersOf(b).id), 'A to know B')
  const { users, slugs } = await seed(a.app, 'g')
  const [jake] = users as [TestUser]
  const url = `/api/articles/${slugs[0] as string}`

  // A is deaf (its LISTEN session killed, reconnections refused) while B says goodbye.
  listen.proxy.refuse()
  await killListener(a)
  await until(() => !cacheOf(a).listener.ready, 'A to notice')
  await b.app.close()
  await listen.proxy.restore()
  await until(() => cacheOf(a).listener.ready && peersOf(a).joined, 'A to rejoin', 15000)

  const before = peersOf(a).timeouts
  await write(a.app, 'PUT', url, jake, { article: { body: 'After B left unheard' } })
  t.equal(peersOf(a).timeouts, before, 'the write did not wait for B')
  t.same(peersOf(a).others(), [], 'A knows nobody else')
})

t.test('a LISTEN session with no live instance behind it is waited for at most once', async t => {
  const a = await buildInstance(t, ENV)
  const { users, slugs } = await seed(a.app, 'h')
  const [jake] = users as [TestUser]
  const url = `/api/articles/${slugs[0] as string}`
  // What a crashed instance's backend looks like while PostgreSQL has not noticed yet: a session
  // named like a listener of the service, that never answers anything.
  const ghost = new pg.Client({ connectionString: a.databaseUrl, application_name: `${LISTENER_APPLICATION_NAME} ${randomUUID()}` })
  ghost.on('error', () => {})
  await ghost.connect()
  t.teardown(() => ghost.end().catch(() => {}))

  const before = peersOf(a).timeouts
  for (let i = 0; i < 3; i++) {
    await rejoin(a)
    await write(a.app, 'PUT', url, jake, { article: { body: `Rejoined ${i}` } })
  }
  t.ok(peersOf(a).timeouts - before <= 1,
    `3 rejoins, each followed by a write: ${peersOf(a).timeouts - before} of them waited for the ghost (1 at most: then it is known silent)`)
  t.same(peersOf(a).others(), [], 'the ghost is not waited for')
})

t.test('a single instance whose LISTEN session restarts under writes never waits for another', async t => {
  const a = await buildInstance(t, ENV)
  const { users, slugs } = await seed(a.app, 'k')
  const [jake] = users as [TestUser]
  const url = `/api/articles/${slugs[0] as string}`
  const before = peersOf(a).timeouts
  const control = { stop: false }
  let writes = 0
  const writers = Array.from({ length: 3 }, async (_, w) => {
    while (!control.stop) {
      await write(a.app, 'POST', `${url}/comments`, jake, { comment: { body: `Writer ${w} ${writes++}` } })
    }
  })
  for (let i = 0; i < 3; i++) {
    await rejoin(a)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  control.stop = true
  await Promise.all(writers)
  t.equal(peersOf(a).timeouts, before, `${writes} writes around 3 restarts of the LISTEN session: none waited for another instance`)
  t.same(peersOf(a).others(), [], 'A knows nobody else')
})

t.test('writes in flight while this instance\'s LISTEN session restarts still wait for the live instances, and only for them', async t => {
  // Generous: on a loaded machine B's delayed ack must not be late for real.
  const env = { CACHE_PEER_TIMEOUT_MS: '600' }
  const a = await buildInstance(t, env)
  const b = await buildInstance(t, env, { databaseUrl: a.databaseUrl })
  await until(() => peersOf(a).others().includes(peersOf(b).id), 'A to know B')
  const { users, slugs } = await seed(a.app, 'm')
  const [jake] = users as [TestUser]
  const url = `/api/articles/${slugs[0] as string}`
  // B confirms 100 ms late, so a restart of A's session often falls between a barrier and B's ack.
  const listener = cacheOf(b).listener
  const notify = listener.notify.bind(listener)
  listener.notify = async (channel, payload) => {
    if (payload.includes('"ack"')) await new Promise(resolve => setTimeout(resolve, 100))
    return notify(channel, payload)
  }
  let sessions = 0
  const peers = peersOf(a)
  const started = peers.listening.bind(peers)
  peers.listening = () => {
    sessions++
    started()
  }
  const before = peers.timeouts
  const control = { stop: false }
  let writes = 0
  const writers = Array.from({ length: 3 }, async (_, w) => {
    while (!control.stop) {
      await write(a.app, 'POST', `${url}/comments`, jake, { comment: { body: `Writer ${w} ${writes++}` } })
    }
  })
  for (let i = 0; i < 3; i++) {
    await rejoin(a)
    await new Promise(resolve => setTimeout(resolve, 300))
  }
  control.stop = true
  await Promise.all(writers)
  t.equal(peers.timeouts, before, `${writes} writes around 3 restarts of A's LISTEN session: B, live, never counted as silent`)
  t.same(peers.others(), [peersOf(b).id], 'A still waits for B')
  t.equal(sessions, 3, 'and A\'s session restarted only when killed (no barrier was lost and taken for a dead session)')
})
