import t, { type Test } from 'tap'
import pg from 'pg'
import type { TestUser } from '../helper.js'
import { createTestDatabase } from '../helper.js'
import { buildInstance, cacheOf, listening, read, seed, tcpProxy, until, write } from './cache-helper.js'

// What a write through one instance waits for before it is acknowledged (src/cache/peers.ts):
// its own change notification applied here, through a barrier that the writes committing
// together share, and a LISTEN session that stops delivering is restarted, not waited on.

// An instance whose LISTEN session goes through a proxy the test controls.
async function proxiedInstance (t: Test, env: Record<string, string> = {}) {
  const databaseUrl = await createTestDatabase(t)
  const direct = new URL(databaseUrl)
  const proxy = await tcpProxy(t, Number(direct.port === '' ? 5432 : direct.port), direct.hostname)
  const listenUrl = new URL(databaseUrl)
  listenUrl.host = `127.0.0.1:${proxy.port}`
  const instance = await buildInstance(t, { ...env, DATABASE_LISTEN_URL: listenUrl.toString() }, { databaseUrl })
  return { instance, proxy }
}

t.test('writes that commit together share a barrier, and each is read fresh once acknowledged', async t => {
  // A LISTEN session 30 ms away: while one barrier travels, the other writes commit.
  const { instance: a, proxy } = await proxiedInstance(t)
  proxy.state.delayMs = 30
  const { users, slugs } = await seed(a.app, 'b')
  const [jake] = users as [TestUser]
  const barriers: string[] = []
  const watcher = new pg.Client({ connectionString: a.databaseUrl })
  watcher.on('error', () => {})
  await watcher.connect()
  t.teardown(() => watcher.end().catch(() => {}))
  watcher.on('notification', message => {
    if (message.payload?.includes('"barrier"') === true) barriers.push(message.payload)
  })
  await watcher.query('LISTEN gravity_peers')

  const url = `/api/articles/${slugs[0] as string}`
  await read(a.app, url)
  const writes = 20
  const answered = await Promise.all(Array.from({ length: writes }, async (_, i) => {
    await write(a.app, 'POST', `${url}/comments`, jake, { comment: { body: `Together ${i}` } })
    // Acknowledged: this instance must already serve it.
    return (await read(a.app, `${url}/comments`)).includes(`Together ${i}"`)
  }))
  t.same(answered.filter(fresh => !fresh).length, 0, 'every comment is in the list read right after its 2xx')
  // Every barrier sent has arrived once none arrives for a while.
  await until(async () => {
    const seen = barriers.length
    await new Promise(resolve => setTimeout(resolve, 300))
    return seen > 0 && barriers.length === seen ? true : undefined
  }, 'the barriers to stop arriving', 30_000)
  t.ok(barriers.length < writes / 2,
    `${writes} concurrent writes sent ${barriers.length} barriers (one per write would queue them on the LISTEN session)`)
})

t.test('a LISTEN session that stops delivering is restarted by the write that finds out', async t => {
  const { instance: a, proxy } = await proxiedInstance(t, { CACHE_PEER_TIMEOUT_MS: '100' })
  const { users, slugs } = await seed(a.app, 's')
  const [jake] = users as [TestUser]
  const url = `/api/articles/${slugs[0] as string}`
  t.match(await read(a.app, url), /The body of/, 'served (and cached) through the proxied LISTEN session')

  // The session goes silent: what reaches PostgreSQL from now on is held, without an error (a
  // dropped flow), so no notification comes back and nothing fails.
  proxy.state.onClientData = () => new Promise<boolean>(() => {})
  await write(a.app, 'PUT', url, jake, { article: { body: 'Written while LISTEN is silent' } })
  t.notOk(cacheOf(a).listener.ready, 'the write that saw its barrier not come back dropped the session')
  t.match(await read(a.app, url), /Written while LISTEN is silent/, 'and the write is read fresh (the cache is not used meanwhile)')

  proxy.state.onClientData = undefined
  await listening(a)
  await until(() => cacheOf(a).peers.joined, 'the instance to rejoin')
  await write(a.app, 'PUT', url, jake, { article: { body: 'After the restart' } })
  t.match(await read(a.app, url), /After the restart/, 'back on a new session, writes settle through it again')
})
