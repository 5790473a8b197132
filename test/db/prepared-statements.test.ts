// PG_PREPARED_STATEMENTS: on, the hot reads are statements prepared by name on the connection
// that ran them (pg_prepared_statements shows them there); off, none is, and the service works
// through a stock transaction-pooling PgBouncer (Debian's 1.18), where named statements do not.
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import pg from 'pg'
import t, { type Test } from 'tap'
import { runAs, startPgBouncer } from '../../bench/cluster-parts.js'
import app from '../../src/app.js'
import { statements } from '../../src/db/statement.js'
import { serverOptions } from '../../src/server-options.js'
import { auth, buildWithDatabase, createArticle, registerUser, testConfig } from '../helper.js'

async function pgBouncer (t: Test, databaseUrl: string): Promise<string> {
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

/** The app on `databaseUrl` (through PgBouncer), with LISTEN and migrations direct. */
async function buildOn (t: Test, databaseUrl: string, directUrl: string, env: Record<string, string>): Promise<FastifyInstance> {
  const config = testConfig({ CACHE: 'off', ...env })
  const server = Fastify(serverOptions(config))
  await server.register(app, { config: { ...config, DATABASE_URL: databaseUrl, DATABASE_LISTEN_URL: directUrl } })
  await server.ready()
  t.teardown(() => server.close())
  return server
}

async function readArticle (app: FastifyInstance, slug: string, headers = {}): Promise<number> {
  return (await app.inject({ url: `/api/articles/${slug}`, headers })).statusCode
}

/** The statements prepared by name on the pool's one connection (PG_POOL_MAX=1). */
async function preparedOn (app: FastifyInstance): Promise<string[]> {
  const { rows } = await app.pg.query<{ name: string }>('SELECT name FROM pg_prepared_statements WHERE NOT from_sql ORDER BY name')
  return rows.map(row => row.name)
}

for (const setting of ['on', 'off'] as const) {
  t.test(`PG_PREPARED_STATEMENTS=${setting}, direct`, async t => {
    const { app } = await buildWithDatabase(t, { CACHE: 'off', PG_POOL_MAX: '1', PG_PREPARED_STATEMENTS: setting })
    const jake = await registerUser(app)
    const { slug } = await createArticle(app, jake)
    t.equal(await readArticle(app, slug), 200)
    t.equal(await readArticle(app, slug, auth(jake)), 200)
    t.equal(await readArticle(app, slug), 200, 'read again: the statement prepared before is reused')
    const prepared = await preparedOn(app)
    if (setting === 'on') t.same(prepared.filter(name => name.startsWith('articles.')), ['articles.by-slug', 'articles.by-slug-viewed'], 'the article reads are prepared by name')
    else t.same(prepared, [], 'no statement is prepared')
  })
}

t.test('through a stock transaction-pooling PgBouncer', async t => {
  const { app: direct, databaseUrl } = await buildWithDatabase(t, { CACHE: 'off' })
  const jake = await registerUser(direct)
  const { slug } = await createArticle(direct, jake)
  const pooled = await pgBouncer(t, databaseUrl)

  // Another client holds the server connection the first read prepared its statement on.
  async function secondReadOnAnotherServerConnection (t: Test, app: FastifyInstance): Promise<number> {
    t.equal(await readArticle(app, slug, auth(jake)), 200, 'first read')
    const holder = new pg.Client({ connectionString: pooled })
    await holder.connect()
    try {
      await holder.query('BEGIN')
      await holder.query('SELECT 1')
      return await readArticle(app, slug, auth(jake))
    } finally {
      await holder.query('ROLLBACK')
      await holder.end()
    }
  }

  t.test('off: every read answers', async t => {
    const app = await buildOn(t, pooled, databaseUrl, { PG_POOL_MAX: '1', PG_PREPARED_STATEMENTS: 'off' })
    t.equal(await secondReadOnAnotherServerConnection(t, app), 200, 'on another server connection')
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => readArticle(app, slug, i % 2 === 0 ? auth(jake) : {})))
    t.same(new Set(many), new Set([200]), '20 reads at once, anonymous and signed in')
  })

  t.test('on: a read on a server connection that never prepared the statement fails (why off exists)', async t => {
    const app = await buildOn(t, pooled, databaseUrl, { PG_POOL_MAX: '1', PG_PREPARED_STATEMENTS: 'on' })
    t.equal(await secondReadOnAnotherServerConnection(t, app), 500)
  })
})

t.test('a statement name is one SQL text', async t => {
  for (const prepared of [true, false]) {
    const statement = statements(prepared)
    t.same(statement('a', 'SELECT 1'), prepared ? { name: 'a', text: 'SELECT 1' } : 'SELECT 1')
    t.same(statement('a', 'SELECT 1'), prepared ? { name: 'a', text: 'SELECT 1' } : 'SELECT 1', 'the same text again')
    t.throws(() => statement('a', 'SELECT 2'), /statement "a" is already defined with another SQL text/)
  }
})
