import t from 'tap'
import type { TestUser } from '../helper.js'
import { buildInstance, cacheOf, killListener, read, seed, until, write, type Instance } from './cache-helper.js'

// How instances learn of each other (src/cache/peers.ts), and what a write waits for: every
// other live instance, but not one that left, and not for long one that went away silently.

const ENV = { CACHE_PEER_TIMEOUT_MS: '300' }
const peersOf = (instance: Instance) => cacheOf(instance).peers
const notify = (instance: Instance, payload: string) =>
  instance.sql('SELECT pg_notify($1, $2)', ['gravity_peers', payload])

t.test('instances find each other, and a write waits only for live ones', async t => {
  const a = await buildInstance(t, ENV)
  const b = await buildInstance(t, ENV, { databaseUrl: a.databaseUrl })
  t.same(peersOf(b).others(), [peersOf(a).id], 'B, joining, found A from its LISTEN session')
  await until(() => peersOf(a).others().includes(peersOf(b).id), 'A to hear B\'s hello')
  t.same(peersOf(a).others(), [peersOf(b).id], 'A heard B announce itself')

  const { users, slugs } = await seed(a.app, 'p')
  const [jake] = users as [TestUser]
  const url = `/api/articles/${slugs[0] as string}`
  t.equal(peersOf(a).timeouts, 0, 'B confirmed every write of the seed in time')

  await t.test('malformed messages on the channel are ignored', async t => {
    const before = peersOf(a).timeouts
    for (const payload of ['not json', 'null', '7', '{"ack":1}', '{"barrier":"nobody:1"}', '{"hello":"x","n":"?"}']) {
      await notify(a, payload)
    }
    await write(a.app, 'PUT', url, jake, { article: { body: 'After the noise' } })
    t.match(await read(b.app, url), /After the noise/, 'writes still settle, and B is fresh at once')
    t.equal(peersOf(a).timeouts, before, 'without waiting for an instance that does not exist')
    t.same(peersOf(a).others(), [peersOf(b).id], 'A still knows only B')
  })

  await t.test('an instance that vanished without a word costs one timeout, then is not waited for', async t => {
    await notify(a, '{"hello":"ghost","n":1}')
    await until(() => peersOf(a).others().includes('ghost'), 'A to hear the ghost')
    const before = peersOf(a).timeouts
    await write(a.app, 'PUT', url, jake, { article: { body: 'Ghost 1' } })
    t.equal(peersOf(a).timeouts, before + 1, 'the first write gave up waiting for the ghost')
    t.notOk(peersOf(a).others().includes('ghost'), 'and forgot it')
    await write(a.app, 'PUT', url, jake, { article: { body: 'Ghost 2' } })
    t.equal(peersOf(a).timeouts, before + 1, 'the next write did not wait for it')
    t.match(await read(b.app, url), /Ghost 2/, 'B, which is live, was still waited for')
  })

  await t.test('B\'s LISTEN session killed: B bypasses its cache, rejoins, and A waits for it again', async t => {
    await read(b.app, url)
    await killListener(b)
    const seen: string[] = []
    for (let i = 0; i < 20; i++) {
      await write(a.app, 'PUT', url, jake, { article: { body: `Around the gap ${i}` } })
      const got = await read(b.app, url)
      if (!got.includes(`Around the gap ${i}"`)) seen.push(`write ${i}: B answered ${got.slice(0, 120)}`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    t.same(seen, [], 'every read through B right after a write through A is fresh, across the reconnect')
    await until(() => peersOf(b).joined, 'B to rejoin')
    t.ok(peersOf(a).others().includes(peersOf(b).id), 'A knows B again')
    await read(b.app, url)
    await write(a.app, 'PUT', url, jake, { article: { body: 'After the rejoin' } })
    t.match(await read(b.app, url), /After the rejoin/, 'B fresh right after a write once rejoined')
  })

  await t.test('an instance that closes says so: writes do not wait for it', async t => {
    const before = peersOf(a).timeouts
    await b.app.close()
    await until(() => !peersOf(a).others().includes(peersOf(b).id), 'A to hear B leave')
    await write(a.app, 'PUT', url, jake, { article: { body: 'After B left' } })
    t.equal(peersOf(a).timeouts, before, 'no write timed out waiting for B')
  })
})
