import Fastify from 'fastify'
import fp from 'fastify-plugin'
import t from 'tap'
import appPlugin, { type AppOptions } from '../../src/app.js'
import { serverOptions } from '../../src/server-options.js'
import { auth, build, createTestDatabase, registerUser, testConfig } from '../helper.js'
import { assertLimited, clearOfWindowEdge, newArticle, statuses, wrongLogin } from './rate-limit-helper.js'

// The limits in memory (no REDIS_URL): what each one counts, per what, and what is exempt.
// Each test builds its own app, so its counts start at zero.
t.jobs = 4

t.test('per address: RATE_LIMIT_MAX requests a minute, then a 429 with Retry-After', async t => {
  const app = await build(t, { RATE_LIMIT_MAX: '5' })
  await clearOfWindowEdge()
  // The tag list is answered from the in-process response cache from the second read on:
  // the limit applies before the cache answers.
  t.same(await statuses(app, 5, { url: '/api/tags' }), [200, 200, 200, 200, 200])
  const limited = await app.inject({ url: '/api/tags' })
  assertLimited(t, limited)
  t.equal(limited.headers['x-ratelimit-limit'], '5', 'the 429 says the limit')
  assertLimited(t, await app.inject({ url: '/api/articles' }))
  assertLimited(t, await app.inject({ url: '/api/no-such-route' }))
  assertLimited(t, await app.inject({ method: 'POST', url: '/api/users', payload: {} }))
  t.equal((await app.inject({ url: '/api/tags', remoteAddress: '10.1.2.3' })).statusCode, 200, 'another address is not limited')
})

t.test('probes (/health and anything under it) are exempt', async t => {
  // The app as server.ts builds it, plus a probe route of the test's own under /health.
  const config = testConfig({ RATE_LIMIT_MAX: '2' })
  const app = Fastify(serverOptions(config))
  await app.register(fp<AppOptions>(appPlugin), { config: { ...config, DATABASE_URL: await createTestDatabase(t) } })
  app.get('/health/test-probe', async () => ({ status: 'ok' }))
  await app.ready()
  t.teardown(() => app.close())
  await clearOfWindowEdge()
  t.same(await statuses(app, 20, { url: '/health' }), Array(20).fill(200), '/health answers')
  t.same(await statuses(app, 5, { url: '/health/test-probe?x=1' }), Array(5).fill(200), '/health/... too')
  t.same(await statuses(app, 3, { url: '/api/tags' }), [200, 200, 429], 'probes did not count: the address has its whole budget')
  t.same(await statuses(app, 20, { url: '/health' }), Array(20).fill(200), '/health still answers once the address is limited')
  t.same(await statuses(app, 2, { url: '/health/test-probe' }), [200, 200], '/health/... too')
  t.same(await statuses(app, 1, { url: '/healthz' }), [429], 'a URL merely starting with /health is not exempt')
})

t.test('login and register: AUTH_RATE_LIMIT_MAX a minute per address, both routes together', async t => {
  const app = await build(t, { AUTH_RATE_LIMIT_MAX: '3', RATE_LIMIT_MAX: '1000' })
  const user = await registerUser(app, 'authlimited')
  await clearOfWindowEdge()
  const here = { remoteAddress: '10.0.0.1' }
  t.same(await statuses(app, 2, { ...wrongLogin(user.email), ...here }), [401, 401], 'wrong passwords are answered')
  const res = await app.inject({ ...wrongLogin(user.email), ...here })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['x-ratelimit-limit'], '3', 'the route announces its own limit')
  assertLimited(t, await app.inject({ ...wrongLogin(user.email), ...here }))
  const right = await app.inject({ method: 'POST', url: '/api/users/login', payload: { user: { email: user.email, password: user.password } }, ...here })
  assertLimited(t, right)
  const register = await app.inject({ method: 'POST', url: '/api/users', payload: { user: { username: 'another', email: 'another@example.com', password: 'password123' } }, ...here })
  assertLimited(t, register)

  const elsewhere = { remoteAddress: '10.0.0.2' }
  t.equal((await app.inject({ ...wrongLogin(user.email), ...elsewhere })).statusCode, 401, 'another address still may try')
  const login = await app.inject({ method: 'POST', url: '/api/users/login', payload: { user: { email: user.email, password: user.password } }, ...elsewhere })
  t.equal(login.statusCode, 200, 'and log in')
  t.equal((await app.inject({ url: '/api/user', headers: auth(user), ...here })).statusCode, 200, 'other routes are not under the auth limit')
})

t.test('writes: WRITE_RATE_LIMIT_MAX a minute per user; users behind one address are independent', async t => {
  const app = await build(t, { WRITE_RATE_LIMIT_MAX: '3', RATE_LIMIT_MAX: '1000' })
  const [alice, bob] = [await registerUser(app, 'alice'), await registerUser(app, 'bob')]
  await clearOfWindowEdge()
  t.same(await statuses(app, 3, newArticle(auth(alice))), [201, 201, 201])
  const limited = await app.inject(newArticle(auth(alice))())
  assertLimited(t, limited)
  assertLimited(t, await app.inject({ method: 'PUT', url: '/api/user', headers: auth(alice), payload: { user: { bio: 'x' } } }))
  assertLimited(t, await app.inject({ method: 'POST', url: '/api/profiles/bob/follow', headers: auth(alice) }))
  t.same(await statuses(app, 3, newArticle(auth(bob))), [201, 201, 201], 'bob, from the same address, has his own budget')
  t.equal((await app.inject({ url: '/api/articles', headers: auth(alice) })).statusCode, 200, 'alice still reads')
  // Without a valid token a write is a 401 before it is counted.
  t.equal((await app.inject(newArticle({ authorization: 'Token nonsense' })())).statusCode, 401)
})

t.test('0 turns each limit off', async t => {
  const app = await build(t, { RATE_LIMIT_MAX: '0', AUTH_RATE_LIMIT_MAX: '0', WRITE_RATE_LIMIT_MAX: '0' })
  const user = await registerUser(app)
  const reads = await statuses(app, 30, { url: '/api/tags' })
  t.same(reads, Array(30).fill(200), 'reads')
  t.same(await statuses(app, 15, wrongLogin(user.email)), Array(15).fill(401), 'logins')
  t.same(await statuses(app, 15, newArticle(auth(user))), Array(15).fill(201), 'writes')
  t.equal((await app.inject({ url: '/api/tags' })).headers['x-ratelimit-limit'], undefined, 'no limit announced')

  const onlyAuth = await build(t, { RATE_LIMIT_MAX: '0', AUTH_RATE_LIMIT_MAX: '2', WRITE_RATE_LIMIT_MAX: '0' })
  await clearOfWindowEdge()
  t.same(await statuses(onlyAuth, 10, { url: '/api/tags' }), Array(10).fill(200), 'the per-address limit off')
  t.same(await statuses(onlyAuth, 3, wrongLogin()), [401, 401, 429], 'the auth limit still on')
})

t.test('defaults: 600 a minute per address, 10 logins, 60 writes per user', async t => {
  const app = await build(t, { RATE_LIMIT_MAX: '', AUTH_RATE_LIMIT_MAX: '', WRITE_RATE_LIMIT_MAX: '' })
  const user = await registerUser(app, 'defaults', '10.0.0.9')
  await clearOfWindowEdge()
  t.equal((await app.inject(newArticle(auth(user))())).headers['x-ratelimit-limit'], '60', 'a write announces the write limit')
  const reads = await statuses(app, 599, { url: '/api/tags', remoteAddress: '10.0.0.9' })
  t.equal(reads.filter(code => code === 200).length, 599, 'an address makes 600 requests a minute')
  t.equal((await app.inject({ url: '/api/tags', remoteAddress: '10.0.0.9' })).statusCode, 429, 'not 601')
  t.equal((await app.inject(wrongLogin())).headers['x-ratelimit-limit'], '10')
  const codes = await statuses(app, 11, wrongLogin())
  t.same(codes, [...Array(9).fill(401), 429, 429], 'the eleventh login attempt is refused')
})

t.test('TRUST_PROXY: whose address is counted', async t => {
  const forwarded = (address: string) => ({ ...wrongLogin(), remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': address } })

  t.test('off (default): X-Forwarded-For is ignored, the peer is the client', async t => {
    const app = await build(t, { AUTH_RATE_LIMIT_MAX: '2' })
    await clearOfWindowEdge()
    const codes = [
      (await app.inject(forwarded('203.0.113.1'))).statusCode,
      (await app.inject(forwarded('203.0.113.2'))).statusCode,
      (await app.inject(forwarded('203.0.113.3'))).statusCode
    ]
    t.same(codes, [401, 401, 429], 'a client cannot reset its count by sending another X-Forwarded-For')
  })

  for (const setting of ['true', '127.0.0.1', '127.0.0.0/8,10.0.0.0/8', 'loopback']) {
    t.test(`TRUST_PROXY=${setting}: the forwarded client is counted`, async t => {
      const app = await build(t, { AUTH_RATE_LIMIT_MAX: '2', TRUST_PROXY: setting })
      await clearOfWindowEdge()
      t.same(await statuses(app, 3, forwarded('203.0.113.1')), [401, 401, 429], 'one client behind the proxy is limited')
      t.equal((await app.inject(forwarded('203.0.113.2'))).statusCode, 401, 'another client behind the same proxy is not')
    })
  }

  t.test('a proxy not in the list is not believed', async t => {
    const app = await build(t, { AUTH_RATE_LIMIT_MAX: '2', TRUST_PROXY: '10.9.9.9' })
    await clearOfWindowEdge()
    const codes = [
      (await app.inject(forwarded('203.0.113.1'))).statusCode,
      (await app.inject(forwarded('203.0.113.2'))).statusCode,
      (await app.inject(forwarded('203.0.113.3'))).statusCode
    ]
    t.same(codes, [401, 401, 429])
  })
})
