// The statement deadline behind a stock PgBouncer (Debian's 1.18, transaction pooling, no
// ignore_startup_parameters) and direct: the service connects through it with its default
// settings, and a statement past PG_STATEMENT_TIMEOUT_MS is stopped by the server (not only
// abandoned by the client), leaving the connection usable.
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { runAs, startPgBouncer } from '../../bench/cluster-parts.js'
import app from '../../src/app.js'
import { serverOptions } from '../../src/server-options.js'
import { buildWithDatabase, queryDatabase, registerUser, testConfig } from '../helper.js'

/** Debian's PgBouncer in front of `databaseUrl`, stock but for transaction pooling (bench/cluster-parts.ts). */
async function stockPgBouncer (t: Test, databaseUrl: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'gravity-pgbouncer-'))
  const user = runAs()
  if (user !== undefined) chownSync(dir, user.uid, user.gid)
  const bouncer = await startPgBouncer(dir, databaseUrl)
  t.teardown(async () => {
    await bouncer.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return bouncer.url
}

const DEADLINE = { PG_STATEMENT_TIMEOUT_MS: '300', PG_QUERY_TIMEOUT_MS: '5000' }

/** The app as server.ts builds it, on `databaseUrl` (through PgBouncer), with LISTEN and migrations direct. */
async function buildOn (t: Test, databaseUrl: string, directUrl: string, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const config = testConfig({ CACHE: 'off', ...env })
  const server = Fastify(serverOptions(config))
  await server.register(app, { config: { ...config, DATABASE_URL: databaseUrl, DATABASE_LISTEN_URL: directUrl } })
  await server.ready()
  t.teardown(() => server.close())
  return server
}

async function checkDeadline (t: Test, app: FastifyInstance, databaseUrl: string) {
  const began = performance.now()
  const err = await app.pg.query('SELECT pg_sleep(4), $1::text AS marker', ['deadline-check']).then(() => undefined, (e: unknown) => e) as { code?: string, message?: string } | undefined
  const tookMs = performance.now() - began
  t.equal(err?.code, '57014', 'cancelled by the server (query_canceled), not abandoned by the client')
  t.match(err?.message, /PG_STATEMENT_TIMEOUT_MS \(300 ms\)/, 'the error names the deadline')
  t.ok(tookMs < 3500, `answered before the statement's own end and before PG_QUERY_TIMEOUT_MS (${Math.round(tookMs)} ms)`)
  const still = await queryDatabase<{ n: number }>(databaseUrl,
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(4)%' AND state = 'active'")
  t.equal(still[0]?.n, 0, 'the statement no longer runs on the server')
  const { rows } = await app.pg.query<{ one: number }>('SELECT 1 AS one')
  t.same(rows, [{ one: 1 }], 'the pool goes on serving')
}

t.test('direct: a statement past the deadline is cancelled on the server', async t => {
  const { app, databaseUrl } = await buildWithDatabase(t, { CACHE: 'off', ...DEADLINE })
  await checkDeadline(t, app, databaseUrl)
})

t.test('behind a stock PgBouncer in transaction mode', async t => {
  const { app: direct, databaseUrl } = await buildWithDatabase(t, { CACHE: 'off' })
  await direct.close() // migrated; the instances below go through PgBouncer
  const bouncer = await stockPgBouncer(t, databaseUrl)

  await t.test('the service works with its default settings', async t => {
    const app = await buildOn(t, bouncer, databaseUrl)
    const user = await registerUser(app)
    const res = await app.inject({ method: 'GET', url: '/api/user', headers: { authorization: `Token ${user.token}` } })
    t.equal(res.statusCode, 200, res.body)
  })

  await t.test('the statement deadline still holds', async t => {
    const app = await buildOn(t, bouncer, databaseUrl, DEADLINE)
    await checkDeadline(t, app, databaseUrl)
  })
})
