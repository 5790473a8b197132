// Reads from a streaming replica (DATABASE_READ_URL), coherent with the cache: a primary and a hot
// standby of the test's own (pg_basebackup -R). Cache misses and uncached reads go to the replica;
// while its replay is held back (pg_wal_replay_pause) a change made meanwhile, through the API or
// by plain SQL, is still read fresh (from the primary), and once replay resumes the cache holds
// the new value, never the one the replica had. A writer's own response always comes from the
// primary; a replica that is down sends reads to the primary and does not touch readiness.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import t, { type Test } from 'tap'
import { buildInstance, cacheOf, listenProxy, redisClient, redisPrefix, SHARED_REDIS_URL, until, write, type Instance } from '../cache/cache-helper.js'
import { auth, createArticle, registerUser, type TestUser } from '../helper.js'
import { ownPostgres, ownReplica } from './own-postgres.js'

// Both clusters: the app's two pools (10 each), its LISTEN session, probes and the test's sessions.
// An asynchronous commit stays unflushed (so unknown to the replica) until the WAL writer's next
// round: 10 s here instead of 0.2 s, so the test sees what an unflushed commit does.
const primary = await ownPostgres(t, { max_connections: '60', wal_writer_delay: '10s' })
const replica = await ownReplica(t, primary, { max_connections: '60' })
const prefix = redisPrefix(t)
const redis = redisClient(t)

async function query<R extends pg.QueryResultRow> (url: string, sql: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  await client.connect()
  try {
    return (await client.query<R>(sql, values)).rows
  } finally {
    await client.end()
  }
}

/** A database of its own on the primary, once the replica has it too. */
async function database (): Promise<string> {
  const name = `replica_${randomBytes(5).toString('hex')}`
  await query(primary.url, `CREATE DATABASE ${name}`)
  await until(async () => (await query(replica.url, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length === 1,
    'the replica to have the database', 10000)
  return name
}

/** An app on the primary with reads through the replica, the shared Redis under a prefix of its own. */
async function instance (t: Test, name: string, env: Record<string, string> = {}): Promise<Instance> {
  const app = await buildInstance(t, {
    DATABASE_READ_URL: replica.urlOf(name),
    REDIS_URL: SHARED_REDIS_URL,
    REDIS_PREFIX: prefix.next(),
    ...env
  }, { databaseUrl: primary.urlOf(name) })
  // Every migration replayed before the replica is read at all.
  await until(async () => (await query(replica.urlOf(name), 'SELECT to_regclass($1) AS t', ['idempotency_keys']))[0]?.t, 'the replica to have the schema', 10000)
  return app
}

const reads = (app: Instance) => app.app.pgRead.stats().reads

async function paused (t: Test): Promise<void> {
  await query(replica.url, 'SELECT pg_wal_replay_pause()')
  await until(async () => (await query<{ state: string }>(replica.url, 'SELECT pg_get_wal_replay_pause_state() AS state'))[0]?.state === 'paused',
    'replay to pause')
  t.teardown(resume)
}

async function resume (): Promise<void> {
  await query(replica.url, 'SELECT pg_wal_replay_resume()')
}

/** The body of an article as a server has it. */
async function bodyOn (url: string, slug: string): Promise<string | undefined> {
  return (await query<{ body: string }>(url, 'SELECT body FROM articles WHERE slug = $1', [slug]))[0]?.body
}

async function articleBody (app: Instance, slug: string, viewer?: TestUser): Promise<string> {
  const res = await app.app.inject({ url: `/api/articles/${slug}`, headers: viewer === undefined ? {} : auth(viewer) })
  if (res.statusCode !== 200) throw new Error(`GET article: ${res.statusCode} ${res.body}`)
  return res.json().article.body as string
}

/** What the shared tier holds for an article (undefined: nothing). */
async function inRedis (app: Instance, name: string, slug: string): Promise<string | undefined> {
  const [row] = await query<{ id: number }>(primary.urlOf(name), 'SELECT id FROM articles WHERE slug = $1', [slug])
  const raw = await redis.get(`${app.app.config.REDIS_PREFIX}:v1:article:${String(row?.id)}`)
  // Stored as `<kind generation>|<json>` (src/cache/redis-store.ts).
  return raw === null ? undefined : (JSON.parse(raw.slice(raw.indexOf('|') + 1)) as { body: string }).body
}

/** An author and an article by them, replayed by the replica and read once (so cached). */
async function cachedArticle (t: Test, app: Instance, name: string, body: string) {
  const author = await registerUser(app.app)
  const { slug } = await createArticle(app.app, author, { body })
  await until(async () => await bodyOn(replica.urlOf(name), slug) === body, 'the replica to replay the article')
  t.equal(await articleBody(app, slug), body, 'read once (cached)')
  return { author, slug }
}

/** After replay resumed and caught up: the cache answers `body`, from each tier, and Redis never holds `old`. */
async function cacheHolds (t: Test, app: Instance, name: string, slug: string, body: string, old: string) {
  await until(async () => await bodyOn(replica.urlOf(name), slug) === body, 'the replica to replay the change')
  t.equal(await articleBody(app, slug), body, 'after replay resumed: the cached article is the new one')
  t.not(await inRedis(app, name, slug), old, 'Redis does not hold the old body')
  cacheOf(app).cache.flushHot()
  t.equal(await articleBody(app, slug), body, 'in-process tier emptied: still the new one')
  t.equal(await inRedis(app, name, slug), body, 'and Redis holds the new one')
}

t.test('cache misses and uncached reads go to the replica', async t => {
  const name = await database()
  const app = await instance(t, name)
  const jake = await registerUser(app.app)
  const { slug } = await createArticle(app.app, jake, { body: 'on the replica', tagList: ['replicated'] })
  await until(async () => await bodyOn(replica.urlOf(name), slug) === 'on the replica', 'the replica to replay the article')
  const before = reads(app)
  cacheOf(app).cache.flushHot()
  for (const url of [`/api/articles/${slug}`, '/api/articles', '/api/tags', `/api/profiles/${jake.username}`, `/api/articles/${slug}/comments`]) {
    t.equal((await app.app.inject({ url })).statusCode, 200, `GET ${url}`)
  }
  const after = reads(app)
  t.ok(after.replica > before.replica, `reads went to the replica (${after.replica - before.replica})`)
  t.equal(after.lag + after.unsynced + after.replica_down, before.lag + before.unsynced + before.replica_down, 'none to the primary')
  const sessions = await query<{ query: string }>(replica.urlOf(name),
    "SELECT query FROM pg_stat_activity WHERE application_name = 'gravity-bff' AND datname = current_database()")
  t.ok(sessions.some(s => /FROM articles a/.test(s.query)), 'the replica ran the service\'s article queries (pg_stat_activity)')

  // What following the changes costs a read: a write, then at once a read of what it changed
  // (a list: the write's own response, read on the primary, has cached the article itself).
  const waitsBefore = app.app.pgRead.stats().waits
  const readsBefore = reads(app)
  const ROUNDS = 20
  let current = slug
  for (let i = 0; i < ROUNDS; i++) {
    current = (await write(app.app, 'PUT', `/api/articles/${current}`, jake, { article: { title: `Round ${i}` } })).json().article.slug
    const list = await app.app.inject({ url: `/api/articles?author=${jake.username}` })
    t.equal(list.json().articles[0].title, `Round ${i}`, `round ${i}: fresh`)
  }
  const waits = app.app.pgRead.stats().waits
  const r = reads(app)
  const waited = waits.count - waitsBefore.count
  t.comment(`healthy replica, ${ROUNDS} writes each read back at once: ${waited} reads found the replica behind, ` +
    `waited ${((waits.sum - waitsBefore.sum) * 1000 / Math.max(1, waited)).toFixed(2)} ms on average; ` +
    `replica ${r.replica - readsBefore.replica}, primary: lag ${r.lag - readsBefore.lag}, write request ${r.write_request - readsBefore.write_request}`)
  t.ok(r.replica > readsBefore.replica, 'reads after writes still go to the replica')
  const metrics = await app.app.metrics.metrics()
  t.match(metrics, /gravity_replica_reads_total\{outcome="replica"\} [1-9]/, 'metrics: reads of the replica')
  t.match(metrics, /gravity_replica_reads_total\{outcome="write_request"\} [1-9]/, 'metrics: a write request\'s reads of the primary')
  t.match(metrics, /gravity_replica_wait_seconds_count \d+/, 'metrics: waits for the replica')
})

t.test('replica held back, a write through the API: the writer and every reader get the new value, and the cache keeps it', async t => {
  const name = await database()
  const app = await instance(t, name)
  const { author, slug } = await cachedArticle(t, app, name, 'before')
  const reader = await registerUser(app.app)
  await paused(t)
  const before = reads(app)
  const waitsBefore = app.app.pgRead.stats().waits

  const res = await write(app.app, 'PUT', `/api/articles/${slug}`, author, { article: { body: 'after' } })
  t.equal(res.json().article.body, 'after', 'the writer\'s own response is fresh')
  const comment = await write(app.app, 'POST', `/api/articles/${slug}/comments`, reader, { comment: { body: 'while paused' } })
  t.equal(comment.json().comment.body, 'while paused', 'a new comment comes back')
  t.equal(await bodyOn(replica.urlOf(name), slug), 'before', 'the replica has not replayed it')

  t.equal(await articleBody(app, slug), 'after', 'anonymous read: fresh')
  t.equal(await articleBody(app, slug, reader), 'after', 'signed-in read: fresh')
  const comments = await app.app.inject({ url: `/api/articles/${slug}/comments` })
  t.match(comments.json(), { comments: [{ body: 'while paused' }] }, 'the comment is listed')
  for (const url of ['/api/articles', '/api/tags', `/api/profiles/${author.username}`, `/api/articles?author=${author.username}`]) {
    t.equal((await app.app.inject({ url })).statusCode, 200, `GET ${url} answers`)
  }
  const r = reads(app)
  const waits = app.app.pgRead.stats().waits
  t.ok(r.write_request > before.write_request, `the writes' own reads went to the primary (${r.write_request - before.write_request})`)
  t.ok(r.lag > before.lag, `reads found the replica behind and went to the primary (${r.lag - before.lag})`)
  t.equal(r.replica, before.replica, 'none read the held-back replica')
  t.comment(`replica paused: ${r.lag - before.lag} reads fell back to the primary for lag, ${r.write_request - before.write_request} for the write requests; ` +
    `${waits.count - waitsBefore.count} waited ${((waits.sum - waitsBefore.sum) * 1000 / Math.max(1, waits.count - waitsBefore.count)).toFixed(1)} ms on average (REPLICA_MAX_WAIT_MS ${app.app.config.REPLICA_MAX_WAIT_MS})`)

  await resume()
  await cacheHolds(t, app, name, slug, 'after', 'before')
  await until(async () => (await query(replica.urlOf(name), 'SELECT 1 FROM comments WHERE body = $1', ['while paused'])).length === 1, 'the replica to replay the comment')
  t.match((await app.app.inject({ url: `/api/articles/${slug}/comments` })).json(), { comments: [{ body: 'while paused' }] },
    'after replay resumed: the cached comments list has the new comment')
})

async function plainSqlChange (t: Test, env: Record<string, string>) {
  const name = await database()
  const app = await instance(t, name, env)
  const { slug } = await cachedArticle(t, app, name, 'v1')
  await paused(t)
  const before = reads(app)
  const waitsBefore = app.app.pgRead.stats().waits.count
  await query(primary.urlOf(name), "UPDATE articles SET body = 'v2' WHERE slug = $1", [slug])
  const began = Date.now()
  // Until its notification is applied the cache may answer v1, as without a replica; then v2.
  await until(async () => await articleBody(app, slug) === 'v2', 'the change to be read', 5000)
  t.pass(`fresh within ${Date.now() - began} ms of the commit`)
  t.equal(await bodyOn(replica.urlOf(name), slug), 'v1', 'the replica has not replayed it')
  for (let i = 0; i < 5; i++) t.equal(await articleBody(app, slug), 'v2', `read ${i}: v2`)
  t.ok(reads(app).lag > before.lag, `the miss went to the primary (${reads(app).lag - before.lag} reads)`)
  await resume()
  await cacheHolds(t, app, name, slug, 'v2', 'v1')
  return app.app.pgRead.stats().waits.count - waitsBefore
}

t.test('replica held back, a plain SQL change on the primary: read fresh once applied, and the cache keeps it', async t => {
  t.ok(await plainSqlChange(t, {}) > 0, 'reads waited for the replica')
})

t.test('the same with REPLICA_MAX_WAIT_MS=0: a read never waits, it goes to the primary at once', async t => {
  t.equal(await plainSqlChange(t, { REPLICA_MAX_WAIT_MS: '0' }), 0, 'no read waited')
})

t.test('the primary\'s WAL position cannot be read after a change: reads go to the primary until it can', async t => {
  const name = await database()
  const listen = await listenProxy(t, primary.urlOf(name))
  const app = await instance(t, name, { DATABASE_LISTEN_URL: listen.url })
  const { slug } = await cachedArticle(t, app, name, 'w1')
  await paused(t)
  // The next position query is dropped, and its connection closed with it.
  let dropped = 0
  listen.proxy.state.onClientData = chunk => {
    if (dropped > 0 || !chunk.includes('pg_current_wal_insert_lsn')) return undefined
    dropped++
    return Promise.resolve(false)
  }
  const before = reads(app)
  await query(primary.urlOf(name), "UPDATE articles SET body = 'w2' WHERE slug = $1", [slug])
  await until(async () => await articleBody(app, slug) === 'w2', 'the change to be read', 5000)
  t.equal(dropped, 1, 'the position query was lost')
  t.ok(reads(app).unsynced + reads(app).lag > before.unsynced + before.lag, 'read from the primary')
  t.equal(reads(app).replica, before.replica, 'none from the held-back replica')
  await until(() => cacheOf(app).listener.ready, 'LISTEN to be back')
  t.equal(await articleBody(app, slug), 'w2', 'after LISTEN is back: fresh')
  await resume()
  await cacheHolds(t, app, name, slug, 'w2', 'w1')
})

t.test('a writer with synchronous_commit off: its change is read fresh, although not flushed when notified', async t => {
  const name = await database()
  const app = await instance(t, name)
  const { slug } = await cachedArticle(t, app, name, 'synchronous')
  const writer = new pg.Client({ connectionString: primary.urlOf(name) })
  await writer.connect()
  t.teardown(() => writer.end())
  await writer.query('SET synchronous_commit = off')
  await writer.query("UPDATE articles SET body = 'asynchronous' WHERE slug = $1", [slug])
  const began = Date.now()
  const { rows: [wal] } = await writer.query<{ insert: string, flush: string }>(
    'SELECT pg_current_wal_insert_lsn()::text AS insert, pg_current_wal_flush_lsn()::text AS flush')
  t.comment(`after the commit: insert ${wal?.insert}, flush ${wal?.flush} (not flushed yet if they differ)`)
  await until(async () => await articleBody(app, slug) === 'asynchronous', 'the change to be read', 5000)
  t.pass(`fresh within ${Date.now() - began} ms of the commit`)
  for (let i = 0; i < 3; i++) t.equal(await articleBody(app, slug), 'asynchronous', `read ${i}: still fresh`)
  t.equal(await bodyOn(replica.urlOf(name), slug), 'synchronous', 'the replica does not have it (not flushed, so not sent)')
  await query(primary.url, 'CHECKPOINT') // flushes the WAL: the replica gets the commit
  await cacheHolds(t, app, name, slug, 'asynchronous', 'synchronous')
})

t.test('change notifications not received: reads go to the primary until they are again', async t => {
  const name = await database()
  const listen = await listenProxy(t, primary.urlOf(name))
  const app = await instance(t, name, { DATABASE_LISTEN_URL: listen.url })
  const { slug } = await cachedArticle(t, app, name, 'heard')
  await listen.proxy.cut()
  await until(() => !cacheOf(app).listener.ready, 'the listener to notice')
  await paused(t)
  await query(primary.urlOf(name), "UPDATE articles SET body = 'unheard' WHERE slug = $1", [slug])
  const before = reads(app)
  t.equal(await articleBody(app, slug), 'unheard', 'a change made meanwhile is read (the cache is bypassed, the replica too)')
  t.ok(reads(app).unsynced > before.unsynced, `reads went to the primary (${reads(app).unsynced - before.unsynced})`)
  t.equal(reads(app).replica, before.replica, 'none to the held-back replica')
  await resume()
  await listen.proxy.restore()
  const back = reads(app).replica
  await until(async () => {
    cacheOf(app).cache.flushHot()
    t.equal(await articleBody(app, slug), 'unheard', 'fresh')
    t.equal((await app.app.inject({ url: '/api/articles' })).statusCode, 200)
    return reads(app).replica > back
  }, 'reads to go to the replica again', 10000)
  t.pass('once listening again, reads go to the replica')
})

t.test('CACHE=off: reads go to the replica, a write\'s own response to the primary', async t => {
  const name = await database()
  const app = await instance(t, name, { CACHE: 'off' })
  const author = await registerUser(app.app)
  const { slug } = await createArticle(app.app, author, { body: 'first' })
  await until(async () => await bodyOn(replica.urlOf(name), slug) === 'first', 'the replica to replay the article')
  const before = reads(app)
  t.equal(await articleBody(app, slug), 'first', 'read')
  t.ok(reads(app).replica > before.replica, 'from the replica')
  await paused(t)
  const res = await write(app.app, 'PUT', `/api/articles/${slug}`, author, { article: { body: 'second' } })
  t.equal(res.json().article.body, 'second', 'the writer\'s own response is fresh')
  t.equal((await app.app.inject({ url: `/api/articles/${slug}` })).statusCode, 200, 'reads answer (from the replica, which may lag)')
  await resume()
})

t.test('replica down: reads go to the primary, readiness is not affected, and the replica is used again once back', async t => {
  const name = await database()
  const app = await instance(t, name)
  const author = await registerUser(app.app)
  const { slug } = await createArticle(app.app, author, { body: 'durable' })
  await until(async () => await bodyOn(replica.urlOf(name), slug) === 'durable', 'the replica to replay the article')
  await replica.stop()
  t.teardown(replica.start)
  const before = reads(app)
  cacheOf(app).cache.flushHot()
  for (const url of [`/api/articles/${slug}`, '/api/articles', `/api/profiles/${author.username}`, '/api/tags']) {
    t.equal((await app.app.inject({ url })).statusCode, 200, `GET ${url}: 200`)
  }
  t.equal(await articleBody(app, slug), 'durable', 'the right data')
  await write(app.app, 'PUT', `/api/articles/${slug}`, author, { article: { body: 'changed while the replica was down' } })
  t.equal(await articleBody(app, slug), 'changed while the replica was down', 'a change is read fresh')
  t.ok(reads(app).replica_down > before.replica_down, `reads went to the primary (${reads(app).replica_down - before.replica_down})`)
  t.equal((await app.app.inject({ url: '/health/ready' })).statusCode, 200, 'ready')

  await replica.start()
  const back = reads(app).replica
  await until(async () => {
    cacheOf(app).cache.flushHot() // list pages are kept in process only: the next list is read
    t.equal((await app.app.inject({ url: '/api/articles' })).statusCode, 200)
    return reads(app).replica > back
  }, 'reads to go to the replica again', 10000)
  t.pass('the replica is read again once it answers')
})
