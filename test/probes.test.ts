import t from 'tap'
import { runMigrations } from '../src/db/migrate.js'
import { buildWithDatabase, queryDatabase } from './helper.js'

t.test('liveness: /health/live and /health (kept for compatibility), no I/O', async t => {
  const { app } = await buildWithDatabase(t, { CACHE: 'off' })
  for (const url of ['/health/live', '/health']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 200, url)
    t.same(res.json(), { status: 'ok' })
  }
})

t.test('readiness', async t => {
  const { app, databaseUrl } = await buildWithDatabase(t)

  t.test('everything up (cache on, in-process): ready', async t => {
    const res = await app.inject({ url: '/health/ready' })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { status: 'ready', checks: { postgres: 'ok', migrations: 'ok', redis: 'off', changes: 'ok' } })
  })

  t.test('the database is behind this build: 503 naming the migrations', async t => {
    const [latest] = await queryDatabase<{ id: number, name: string, hash: string, executed_at: Date }>(databaseUrl,
      'DELETE FROM migrations WHERE id = (SELECT max(id) FROM migrations) RETURNING *')
    t.teardown(() => queryDatabase(databaseUrl, 'INSERT INTO migrations (id, name, hash, executed_at) VALUES ($1, $2, $3, $4)',
      [latest?.id, latest?.name, latest?.hash, latest?.executed_at]))
    const res = await app.inject({ url: '/health/ready' })
    t.equal(res.statusCode, 503)
    t.equal(res.headers['retry-after'], '5')
    t.match(res.json(), { status: 'unready', checks: { postgres: 'ok', migrations: 'down' }, errors: { migrations: [/are not applied/] } })
  })

  t.test('draining (after SIGTERM): 503 while the API still answers', async t => {
    app.draining.begin()
    const res = await app.inject({ url: '/health/ready' })
    t.equal(res.statusCode, 503)
    t.match(res.json(), { status: 'draining', errors: { server: ['is shutting down'] } })
    t.equal((await app.inject({ url: '/api/tags' })).statusCode, 200)
    t.equal((await app.inject({ url: '/health/live' })).statusCode, 200, 'still alive')
  })
})

t.test('MIGRATE_ON_START=off: the instance does not migrate, and is unready until a migration step has run', async t => {
  const { app, databaseUrl } = await buildWithDatabase(t, { MIGRATE_ON_START: 'off', CACHE: 'off' })
  const before = await app.inject({ url: '/health/ready' })
  t.equal(before.statusCode, 503)
  t.match(before.json(), { status: 'unready', checks: { postgres: 'ok', migrations: 'down' }, errors: { migrations: [/are not applied \(database at 0,/] } },
    'a database never migrated is behind, not unreachable')
  await runMigrations(databaseUrl)
  const after = await app.inject({ url: '/health/ready' })
  t.equal(after.statusCode, 200, 'ready once `npm run migrate` (here: its function) has run')
})
