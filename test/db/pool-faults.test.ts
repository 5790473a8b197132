// The pg pool when PostgreSQL stops answering: connections that go silent (no FIN, no RST: a
// failover, a NAT or firewall idle timeout) and a frozen server (SIGSTOP) cost a request at most
// the deadlines, the service answers again within seconds of PostgreSQL being reachable, and the
// outage is two log lines (down, back) instead of a stack trace per refused request.
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import app from '../../src/app.js'
import { serverOptions } from '../../src/server-options.js'
import { freePort, poll, tcpProxy, until } from '../cache/cache-helper.js'
import { silencingProxy as startSilencingProxy } from '../../bench/silencing-proxy.js'
import { createTestDatabase, queryDatabase, testConfig } from '../helper.js'
import { ownPostgres } from './own-postgres.js'

// Small deadlines, far enough apart to tell a refusal at once from one that waited a deadline out.
const QUERY_TIMEOUT_MS = 1500
const CONNECT_TIMEOUT_MS = 1000
const ENV = {
  CACHE: 'off', // every request reads PostgreSQL
  LOG_LEVEL: 'info',
  PG_POOL_MAX: '3',
  PG_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
  PG_STATEMENT_TIMEOUT_MS: '1000',
  PG_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS)
}
// A refused request waits at most for a pooled connection and then for its query; the slack is
// for this machine's stalls, and still far below the outages below (8 s and more).
const WORST_MS = CONNECT_TIMEOUT_MS + QUERY_TIMEOUT_MS + 1500
const HANG_MS = 15000

interface LogLine { level: number, msg: string, [field: string]: unknown }

/** The app as server.ts builds it, on `databaseUrl`, with its log lines kept. */
async function start (t: Test, databaseUrl: string): Promise<{ app: FastifyInstance, lines: LogLine[] }> {
  const lines: LogLine[] = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line))
      done()
    }
  })
  const config = testConfig(ENV)
  const defaults = serverOptions(config)
  const server = Fastify({ ...defaults, logger: { ...(defaults.logger as object), stream } })
  await server.register(app, { config: { ...config, DATABASE_URL: databaseUrl } })
  await server.ready()
  t.teardown(() => server.close())
  return { app: server, lines }
}

/** GET /api/tags (a PostgreSQL read with the cache off): its status, Retry-After and duration; status 0 if it hung. */
async function read (server: FastifyInstance) {
  const started = Date.now()
  const res = await Promise.race([server.inject({ url: '/api/tags' }), sleep(HANG_MS).then(() => undefined)])
  return { status: res?.statusCode ?? 0, retryAfter: res?.headers['retry-after'], ms: Date.now() - started }
}

/** `waves` rounds of `width` concurrent reads. */
async function waves (server: FastifyInstance, count: number, width: number) {
  const answers: Array<Awaited<ReturnType<typeof read>>> = []
  for (let i = 0; i < count; i++) answers.push(...await Promise.all(Array.from({ length: width }, () => read(server))))
  return answers
}

/** Waits for a 200 from the app; how long it took. */
async function recovery (server: FastifyInstance, timeoutMs: number): Promise<number> {
  const started = Date.now()
  const ok = await poll(async () => (await read(server)).status === 200, timeoutMs, 50)
  return ok === true ? Date.now() - started : Infinity
}

/** The outage as the log tells it: one warn when it began, one info when it ended, nothing at error, no stack. */
function checkOutageLog (t: Test, lines: LogLine[], answered503: number) {
  const warns = lines.filter(l => l.level === 40)
  t.same(warns.map(l => l.msg), [warns[0]?.msg].filter(Boolean), 'one warn line')
  t.match(warns[0], { msg: /^PostgreSQL unavailable/, reason: String }, 'it says PostgreSQL became unavailable, and why')
  const back = lines.filter(l => l.msg === 'PostgreSQL reachable again')
  t.equal(back.length, 1, 'one line when it is back')
  t.match(back[0], { level: 30, downMs: Number, refused: Number }, 'at info, with how long it was down and how many requests were refused')
  t.same(lines.filter(l => l.level >= 50).map(l => l.msg), [], 'nothing at error level')
  const refusedLines = lines.filter(l => l.msg === 'request completed' && l.statusCode === 503)
  t.ok(refusedLines.length >= answered503, `each refused request has its own line with status 503 (${refusedLines.length})`)
  t.same(refusedLines.filter(l => 'err' in l || JSON.stringify(l).includes('stack')), [], 'without an error or a stack')
  // A request that failed on a lost connection before the outage was known says why itself.
  const before = refusedLines.filter(l => l.failure !== undefined)
  t.ok(before.length <= 3, `at most one per pooled connection says why itself (${before.map(l => String(l.failure)).join('; ')})`)
  t.ok(Number(back[0]?.refused) >= answered503 - before.length,
    `the line when it is back counts the others (${String(back[0]?.refused)} ≥ ${answered503 - before.length})`)
}

t.test('connections that go silent: 503 within the deadlines, fail fast, 200 again once PostgreSQL is reachable', async t => {
  // A PostgreSQL of the test's own, behind a proxy the test controls.
  const direct = new URL((await ownPostgres(t)).url)
  const proxy = await tcpProxy(t, Number(direct.port || 5432), direct.hostname)
  const proxied = new URL(direct)
  proxied.port = String(proxy.port)
  const { app: server, lines } = await start(t, proxied.toString())
  t.same((await waves(server, 1, 3)).map(a => a.status), [200, 200, 200], 'warm: the pool holds connections')

  // From now on nothing reaches PostgreSQL and nothing comes back: not on the pooled
  // connections, not on new ones (which never get past their startup message).
  proxy.state.onClientData = () => new Promise<boolean>(() => {})
  const silentAt = Date.now()
  const first = await waves(server, 1, 5)
  t.same(first.map(a => a.status), first.map(() => 503), `the first requests answer 503 (${first.map(a => a.ms).join(', ')} ms)`)
  t.ok(first.every(a => a.ms < WORST_MS), `each within the deadlines (< ${WORST_MS} ms), not hung`)
  t.ok(first.every(a => a.retryAfter !== undefined), 'with Retry-After')
  await until(() => lines.some(l => /^PostgreSQL unavailable/.test(l.msg)), 'the outage to be logged')
  const later = await waves(server, 4, 5)
  t.same(later.map(a => a.status), later.map(() => 503), 'later requests: 503')
  t.ok(later.every(a => a.ms < CONNECT_TIMEOUT_MS), `at once, no deadline waited out (slowest ${Math.max(...later.map(a => a.ms))} ms)`)
  const outageMs = 8000 - (Date.now() - silentAt)
  if (outageMs > 0) await sleep(outageMs)

  // PostgreSQL reachable again for new connections (the silent ones stay silent).
  proxy.state.onClientData = undefined
  const recoveredMs = await recovery(server, 10000)
  t.ok(recoveredMs < 5000, `200 again within a few seconds of PostgreSQL being reachable (${recoveredMs} ms)`)
  t.same((await waves(server, 2, 5)).map(a => a.status), Array(10).fill(200), 'and stays so')
  checkOutageLog(t, lines, first.length + later.length)
})

/** bench/silencing-proxy.ts in front of `databaseUrl`, closed when the test ends; `url` goes through it. */
async function silencingProxy (t: Test, databaseUrl: string) {
  const proxy = await startSilencingProxy(new URL(databaseUrl), await freePort())
  t.teardown(proxy.close)
  const url = new URL(databaseUrl)
  url.port = String(proxy.port)
  return { url: url.toString(), silence: proxy.silence, reachable: proxy.reachable }
}

t.test('after an outage, pooled connections that went silent are replaced, not handed out again', async t => {
  const proxy = await silencingProxy(t, await createTestDatabase(t))
  const { app: server, lines } = await start(t, proxy.url)
  t.same((await waves(server, 1, 3)).map(a => a.status), [200, 200, 200], 'warm: three pooled connections')
  proxy.silence()
  // One request at a time: it finds out on one connection; the two others stay idle in the pool.
  t.equal((await read(server)).status, 503, 'a request on a silent connection: 503')
  await until(() => !server.dbHealth.up, 'the outage to be declared')
  proxy.reachable()
  t.ok(await recovery(server, 10000) < 5000, 'back')
  const after = []
  for (let i = 0; i < 4; i++) after.push(await read(server))
  t.same(after.map(a => a.status), [200, 200, 200, 200], 'one request after another: 200')
  t.ok(after.every(a => a.ms < QUERY_TIMEOUT_MS), `none waits out a deadline on an old connection (${after.map(a => a.ms).join(', ')} ms)`)
  t.equal(lines.filter(l => /^PostgreSQL unavailable/.test(l.msg)).length, 1, 'one outage')
})

t.test('a transaction on a connection that went silent fails within one deadline, and that connection is dropped', async t => {
  const proxy = await silencingProxy(t, await createTestDatabase(t))
  const { app: server } = await start(t, proxy.url)
  t.same((await waves(server, 1, 3)).map(a => a.status), [200, 200, 200], 'warm: three pooled connections')
  proxy.silence()
  const started = Date.now()
  const failed = await server.repos.articles.create(1, { slug: 'silent', title: 'Silent', description: '', body: '', tagList: [] })
    .then(() => undefined, (err: Error) => err)
  const ms = Date.now() - started
  t.match(failed, { message: 'Query read timeout' }, 'the write fails on the deadline')
  // A ROLLBACK on it would wait out a second deadline behind the query that got no answer.
  t.ok(ms < QUERY_TIMEOUT_MS + 900, `within one deadline (${ms} ms), no ROLLBACK waited for`)
  t.equal(server.pg.totalCount, 2, 'the connection is closed, not pooled again')
})

t.test('PostgreSQL refusing connections: 503 at once, the outage logged twice, no stack per request', async t => {
  const direct = new URL(await createTestDatabase(t))
  const proxy = await tcpProxy(t, Number(direct.port || 5432), direct.hostname)
  const proxied = new URL(direct)
  proxied.port = String(proxy.port)
  const { app: server, lines } = await start(t, proxied.toString())
  t.same((await waves(server, 1, 3)).map(a => a.status), [200, 200, 200], 'warm')
  await proxy.cut() // open connections reset, new ones refused
  const answers = await waves(server, 5, 4)
  t.same(answers.map(a => a.status), answers.map(() => 503), 'every request answers 503')
  t.ok(answers.every(a => a.ms < CONNECT_TIMEOUT_MS), `at once (slowest ${Math.max(...answers.map(a => a.ms))} ms)`)
  const health = server.dbHealth
  t.match(health, { up: false, downSince: Date, refused: Number }, 'app.dbHealth: down, since when, requests refused')
  t.match(await server.metrics.metrics(), /gravity_pg_up 0/, 'metric gravity_pg_up 0')
  const ready = await server.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 503, 'readiness fails')
  t.match(ready.json(), { checks: { postgres: 'down' }, errors: { postgres: [/is unreachable since .* requests refused/] } })
  await proxy.restore()
  const recoveredMs = await recovery(server, 10000)
  t.ok(recoveredMs < 5000, `200 again within a few seconds (${recoveredMs} ms)`)
  t.equal(health.up, true, 'app.dbHealth: up')
  checkOutageLog(t, lines, answers.length)
})

t.test('one lost connection is not an outage: the next request gets a new one', async t => {
  const databaseUrl = await createTestDatabase(t)
  const { app: server, lines } = await start(t, databaseUrl)
  t.same((await waves(server, 1, 3)).map(a => a.status), [200, 200, 200], 'warm')
  await queryDatabase(databaseUrl, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gravity-bff' AND datname = current_database()")
  t.same((await waves(server, 2, 3)).map(a => a.status), Array(6).fill(200), 'every request answers 200')
  t.same(lines.filter(l => /^PostgreSQL/.test(l.msg)).map(l => l.msg), [], 'no outage logged')
})

t.test('a frozen PostgreSQL (SIGSTOP) costs a request at most the deadlines, never the freeze', async t => {
  const cluster = await ownPostgres(t)
  const { app: server, lines } = await start(t, cluster.url)
  t.same((await waves(server, 1, 3)).map(a => a.status), [200, 200, 200], 'warm')

  cluster.freeze()
  const frozenAt = Date.now()
  const answers = await waves(server, 3, 4)
  const frozenFor = Date.now() - frozenAt
  t.same(answers.map(a => a.status), answers.map(() => 503), `503 while frozen (${answers.map(a => a.ms).join(', ')} ms)`)
  t.ok(answers.every(a => a.ms < WORST_MS), `each within the deadlines (< ${WORST_MS} ms)`)
  const freezeMs = 8000
  if (freezeMs > frozenFor) await sleep(freezeMs - frozenFor)
  cluster.thaw()
  const recoveredMs = await recovery(server, 15000)
  t.ok(recoveredMs < 5000, `200 again within a few seconds of the thaw (${recoveredMs} ms)`)
  checkOutageLog(t, lines, answers.length)
})
