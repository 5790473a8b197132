// The service deployed as in production, on this machine (bench/local-cluster.ts): three
// instances of the build behind HAProxy, through PgBouncer in transaction mode, one Redis.
// Through the load balancer reads after writes are fresh whichever instance answers, a write by
// another service reaches every instance, a rolling restart under load fails no request and loses
// no write, a SIGKILL costs only what was in flight, and the login limit is one for all instances.
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import t from 'tap'
import { startCluster } from '../bench/local-cluster.js'
import { ensureBuilt } from './built.js'
import { call, describeFailures, newAddress, ok, percentile, register, steadyLoad, type Answer, type Outcome } from './cluster-helper.js'
import { createTestDatabase } from './helper.js'

const PEER_TIMEOUT_MS = 250
const AUTH_LIMIT = 5

const cluster = await startCluster({
  serverJs: await ensureBuilt(),
  databaseUrl: await createTestDatabase(t),
  // HAProxy checks every 250 ms: an instance leaves and joins the rotation within a second.
  checkMs: 250,
  env: {
    CACHE_PEER_TIMEOUT_MS: String(PEER_TIMEOUT_MS),
    AUTH_RATE_LIMIT_MAX: String(AUTH_LIMIT),
    // The load below comes from one address and one writer, far above a person's.
    RATE_LIMIT_MAX: '0',
    WRITE_RATE_LIMIT_MAX: '0',
    // This machine runs many test files at once: its event loop lags far more than a service's may.
    SHED_EVENT_LOOP_DELAY_MS: '0'
  }
})
t.teardown(cluster.stop)
const lb = cluster.lbUrl
const [i1, i2, i3] = cluster.instances as [typeof cluster.instances[0], typeof cluster.instances[0], typeof cluster.instances[0]]

const author = await register(lb, 'author')
const reader = await register(lb, 'reader')
const created = await call(lb, '/api/articles', {
  method: 'POST', token: author.token, body: { article: { title: 'Cluster', description: 'd', body: 'first body', tagList: ['cluster'] } }
})
const slug = created.body.article.slug as string

/** `count` reads of `path` through the load balancer; each must satisfy `fresh`. */
async function readsEverywhere (path: string, fresh: (body: any) => boolean, token?: string, count = 6) {
  const answers: Answer[] = []
  for (let i = 0; i < count; i++) answers.push(await call(lb, path, { token }))
  return {
    stale: answers.filter(a => a.status !== 200 || !fresh(a.body)).map(a => `${a.servedBy}: ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`),
    servedBy: new Set(answers.map(a => a.servedBy))
  }
}

t.test('through the load balancer, every read after a write is fresh, whichever instance answers', async t => {
  const servedBy = new Set<string | undefined>()
  const check = async (what: string, path: string, fresh: (body: any) => boolean, token?: string) => {
    const reads = await readsEverywhere(path, fresh, token)
    for (const name of reads.servedBy) servedBy.add(name)
    t.same(reads.stale, [], `after ${what}: ${path} fresh on every read`)
  }
  const article = `/api/articles/${slug}`
  await check('creating the article', article, b => b.article.body === 'first body')
  t.equal((await call(lb, article, { method: 'PUT', token: author.token, body: { article: { description: 'updated', body: 'second body' } } })).status, 200)
  await check('updating it', article, b => b.article.description === 'updated' && b.article.body === 'second body')
  await check('updating it', '/api/articles?author=author', b => b.articles[0]?.description === 'updated')
  t.equal((await call(lb, `${article}/favorite`, { method: 'POST', token: reader.token })).status, 200)
  await check('a favorite', article, b => b.article.favorited === true && b.article.favoritesCount === 1, reader.token)
  await check('a favorite', article, b => b.article.favoritesCount === 1)
  await check('a favorite', '/api/articles?favorited=reader', b => b.articles.some((a: { slug: string }) => a.slug === slug))
  const comment = await call(lb, `${article}/comments`, { method: 'POST', token: reader.token, body: { comment: { body: 'fresh?' } } })
  t.equal(comment.status, 200)
  await check('a comment', `${article}/comments`, b => b.comments.some((c: { id: number }) => c.id === comment.body.comment.id))
  t.equal((await call(lb, `${article}/favorite`, { method: 'DELETE', token: reader.token })).status, 200)
  await check('an unfavorite', article, b => b.article.favorited === false && b.article.favoritesCount === 0, reader.token)
  t.same([...servedBy].sort(), ['i1', 'i2', 'i3'], 'the reads were answered by every instance')
})

t.test('a plain SQL write by another service is served fresh by every instance within 1 s', async t => {
  const path = `/api/articles/${slug}`
  // Each instance has the article in its cache first.
  for (const instance of cluster.instances) {
    for (let i = 0; i < 2; i++) t.equal((await call(instance.url, path)).status, 200)
  }
  const writtenAt = performance.now()
  await cluster.sql('UPDATE articles SET title = $1, body = $2, updated_at = now() WHERE slug = $3', ['Changed by SQL', 'sql body', slug])
  const delays = await Promise.all(cluster.instances.map(async instance => {
    for (;;) {
      const answer = await call(instance.url, path)
      if (answer.body?.article?.title === 'Changed by SQL' && answer.body.article.body === 'sql body') return performance.now() - writtenAt
      if (performance.now() - writtenAt > 5000) return Infinity
      await sleep(10)
    }
  }))
  t.comment(`SQL write seen by i1, i2, i3 after ${delays.map(Math.round).join(', ')} ms`)
  t.ok(delays.every(ms => ms < 1000), `every instance answers fresh within 1 s (${delays.map(Math.round).join(', ')} ms)`)
})

t.test('the login rate limit is one count for all instances, per client address', async t => {
  const from = newAddress()
  const login = () => call(lb, '/api/users/login', { method: 'POST', from, body: { user: { email: 'author@cluster.test', password: 'password123' } } })
  const answers: Answer[] = []
  // One after another, as fast as they are answered: login counts are exact in Redis (each waits for its INCRBY).
  for (let i = 0; i < AUTH_LIMIT + 2; i++) answers.push(await login())
  t.same(answers.slice(0, AUTH_LIMIT).map(a => a.status), Array(AUTH_LIMIT).fill(200), `the first ${AUTH_LIMIT} logins succeed`)
  t.ok(new Set(answers.map(a => a.servedBy)).size >= 2, `answered by several instances (${answers.map(a => a.servedBy).join(' ')})`)
  t.same(answers.slice(AUTH_LIMIT).map(a => a.status), [429, 429], 'then 429, whichever instance answers')
  const errors = Object.values(answers[AUTH_LIMIT]?.body?.errors ?? {})
  t.ok(errors.length === 1 && errors.every(e => Array.isArray(e) && e.length > 0 && e.every(m => typeof m === 'string')),
    `in the Conduit error shape (${JSON.stringify(answers[AUTH_LIMIT]?.body)})`)
  const other = await call(lb, '/api/users/login', { method: 'POST', from: newAddress(), body: { user: { email: 'author@cluster.test', password: 'password123' } } })
  t.equal(other.status, 200, 'another client address is not limited: the key is the forwarded address, not HAProxy\'s')
})

/** Every comment acknowledged with 2xx is in the database, with what was sent. */
async function lostWrites (outcomes: Outcome[]): Promise<Outcome[]> {
  const acknowledged = outcomes.filter(o => o.kind === 'write' && o.commentId !== undefined)
  const rows = await cluster.sql<{ id: number, body: string }>('SELECT id, body FROM comments WHERE id = ANY($1)', [acknowledged.map(o => o.commentId)])
  const stored = new Map(rows.map(r => [r.id, r.body]))
  return acknowledged.filter(o => stored.get(o.commentId as number) !== o.sent)
}

/** A function that says how many requests HAProxy retried, and sent to another server, since this call. */
async function retriesSince () {
  const backend = async () => (await cluster.haproxy.stats()).find(s => s.name === 'BACKEND')
  const before = await backend()
  return async () => {
    const after = await backend()
    const retried = (after?.retries ?? 0) - (before?.retries ?? 0)
    const redispatched = (after?.redispatches ?? 0) - (before?.redispatches ?? 0)
    return { retried, redispatched, text: `HAProxy retried ${retried}, redispatched ${redispatched}` }
  }
}

function summary (outcomes: Outcome[]) {
  const writes = outcomes.filter(o => o.kind === 'write')
  return {
    sent: outcomes.length,
    failures: outcomes.filter(o => !ok(o)),
    writes: writes.length,
    acknowledged: writes.filter(o => o.commentId !== undefined).length
  }
}

t.test('rolling restart under load: no failed request, no lost write', async t => {
  const retries = await retriesSince()
  const load = steadyLoad(lb, { slug, token: author.token, readers: 3, writers: 2, tag: 'rolling' })
  await sleep(1000)
  for (const instance of cluster.instances) {
    const code = await instance.stop('SIGTERM')
    t.equal(code, 0, `${instance.name} exits 0 after SIGTERM`)
    await instance.start()
    await cluster.waitFor(instance.name, 'UP')
  }
  await sleep(1000)
  const outcomes = await load.stop()
  const { sent, failures, acknowledged } = summary(outcomes)
  const lost = await lostWrites(outcomes)
  const haproxy = await retries()
  t.comment(`rolling restart: ${sent} requests, ${failures.length} failed, ${acknowledged} acknowledged writes, ${lost.length} lost; ${haproxy.text}`)
  t.equal(failures.length, 0, describeFailures(failures))
  // HAProxy's retries would hide an instance that closes while still in rotation (SHUTDOWN_DELAY_MS
  // too short): none must have been needed.
  t.same([haproxy.retried, haproxy.redispatched], [0, 0], 'each instance left the rotation before it closed: no request was retried')
  t.ok(acknowledged > 20, `writes went on throughout (${acknowledged})`)
  t.same(lost.map(o => o.sent), [], 'every acknowledged write is in the database')
})

t.test('SIGKILL of one instance under load: only what was in flight on it fails, the survivors stay coherent', async t => {
  const retries = await retriesSince()
  const load = steadyLoad(lb, { slug, token: author.token, readers: 3, writers: 2, tag: 'kill' })
  await sleep(1500)
  const killedAt = load.now()
  await i2.stop('SIGKILL')
  await cluster.waitFor('i2', 'DOWN')
  await sleep(2000)
  const outcomes = await load.stop()
  const { sent, failures, acknowledged } = summary(outcomes)
  const lost = await lostWrites(outcomes)
  const writes = outcomes.filter(o => o.kind === 'write' && ok(o))
  const beforeKill = writes.filter(o => o.at + o.ms < killedAt).map(o => o.ms)
  // Those in flight at the kill too: they may be the ones that waited for the dead instance.
  const afterKill = writes.filter(o => o.at + o.ms >= killedAt).map(o => o.ms)
  const slowAfter = afterKill.filter(ms => ms >= PEER_TIMEOUT_MS).length
  t.comment(`SIGKILL: ${sent} requests, ${failures.length} failed, ${acknowledged} acknowledged writes, ${lost.length} lost; ${(await retries()).text}; ` +
    `write latency before the kill p50 ${Math.round(percentile(beforeKill, 0.5))} max ${Math.round(Math.max(...beforeKill))} ms, ` +
    `after it p50 ${Math.round(percentile(afterKill, 0.5))} max ${Math.round(Math.max(...afterKill))} ms (${slowAfter} of ${afterKill.length} ≥ ${PEER_TIMEOUT_MS} ms)`)
  // In flight at the kill: at most one request per loop, each sent before it.
  t.ok(failures.length <= 5, describeFailures(failures))
  t.same(failures.filter(f => f.at > killedAt), [], 'no request sent after the kill fails')
  t.same(lost.map(o => o.sent), [], 'every acknowledged write is in the database')
  // Each survivor waits for the dead one once (CACHE_PEER_TIMEOUT_MS), then no more; generous
  // for this machine's stalls, far below any other deadline (PG_QUERY_TIMEOUT_MS is 6 s).
  t.ok(Math.max(...afterKill) < PEER_TIMEOUT_MS + 2500, `no write after the kill waited much more than ${PEER_TIMEOUT_MS} ms (max ${Math.round(Math.max(...afterKill))} ms)`)
  t.ok(slowAfter <= 8, `few writes waited ${PEER_TIMEOUT_MS} ms or more (${slowAfter})`)

  const path = `/api/articles/${slug}`
  for (const [writer, other] of [[i1, i3], [i3, i1]] as const) {
    const description = `written through ${writer.name}`
    t.equal((await call(writer.url, path, { method: 'PUT', token: author.token, body: { article: { description } } })).status, 200)
    const [mine, theirs] = await Promise.all([call(writer.url, path), call(other.url, path)])
    t.same([mine.body.article.description, theirs.body.article.description], [description, description], `a write through ${writer.name} is read fresh on both survivors at once`)
  }
  await i2.start()
  await cluster.waitFor('i2', 'UP')
})

t.test('write latency (a comment, through one instance) with 3, 2 and 1 instances live', async t => {
  const figures: string[] = []
  for (const stopping of [undefined, i3, i2]) {
    if (stopping !== undefined) t.equal(await stopping.stop('SIGTERM'), 0, `${stopping.name} stopped`)
    const ms: number[] = []
    for (let i = 0; i < 40; i++) {
      const answer = await call(i1.url, `/api/articles/${slug}/comments`, { method: 'POST', token: author.token, body: { comment: { body: `latency ${i}` } } })
      t.equal(answer.status, 200)
      ms.push(answer.ms)
    }
    const live = cluster.instances.filter(i => i.running).length
    figures.push(`${live}: p50 ${percentile(ms, 0.5).toFixed(1)} max ${Math.max(...ms).toFixed(1)} ms`)
  }
  t.comment(`write latency by instances live: ${figures.join('; ')}`)
})

t.test('PgBouncer carried the traffic in transaction mode; no instance logged an error', async t => {
  const admin = new pg.Client({ connectionString: cluster.pgbouncerAdminUrl })
  await admin.connect()
  const database = new URL(cluster.databaseUrl).pathname.slice(1)
  const pools = (await admin.query('SHOW POOLS')).rows.filter(r => r.database === database)
  const stats = (await admin.query('SHOW STATS')).rows.find(r => r.database === database)
  await admin.end()
  t.same(pools.map(p => p.pool_mode), ['transaction'], 'one pool, in transaction mode')
  t.comment(`PgBouncer: ${stats?.total_xact_count} transactions, ${stats?.total_query_count} queries`)
  t.ok(Number(stats?.total_xact_count) > 100, 'the instances\' queries went through it')
  const lines = cluster.instances.flatMap(i => i.lines.map(line => ({ instance: i.name, ...line })))
  const configs = cluster.instances.flatMap(i => i.lines).filter(l => typeof l.config === 'object').map(l => l.config as Record<string, unknown>)
  t.ok(configs.length >= 3 && configs.every(c => c.PG_STATEMENT_TIMEOUT_MS === 5000 && c.DATABASE_URL === cluster.pooledUrl),
    'every instance ran through PgBouncer with the default statement deadline (5 s)')
  t.same(lines.filter(l => l.level >= 50), [], 'nothing at error level or above')
  t.same(lines.filter(l => /prepared statement|startup parameter/i.test(JSON.stringify(l))).map(l => l.msg), [],
    'nothing about prepared statements or startup parameters')
})
