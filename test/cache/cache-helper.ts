import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance, type InjectOptions, type LightMyRequestResponse } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import pg from 'pg'
import type { Test } from 'tap'
import app, { type AppOptions } from '../../src/app.js'
import { LISTENER_APPLICATION_NAME } from '../../src/db/change-listener.js'
import type { CacheState } from '../../src/plugins/cache.js'
import type { Repositories } from '../../src/repositories/repositories.js'
import { serverOptions } from '../../src/server-options.js'
import { auth, createTestDatabase, registerUser, testConfig, type TestUser } from '../helper.js'

/** The shared Redis every test file uses, each under a key prefix of its own. */
export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Polls `check` every `everyMs` until it returns something truthy; undefined at the deadline. */
export async function poll<T> (check: () => T | Promise<T>, timeoutMs = 1000, everyMs = 20): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) return undefined
    await sleep(everyMs)
  }
}

/** Like poll, but throws at the deadline. */
export async function until<T> (check: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  const value = await poll(check, timeoutMs, 10)
  if (!value) throw new Error(`timed out waiting for ${what}`)
  return value as NonNullable<T>
}

/**
 * A Redis key prefix for one test file (`test_<random>`), on the shared Redis; sub-prefixes
 * (`<prefix>.1`, `<prefix>.2`…) for apps that must not share keys. Its keys, and only its keys,
 * are unlinked when the file's root test ends.
 */
export function redisPrefix (t: Test) {
  const base = `test_${randomBytes(6).toString('hex')}`
  let n = 0
  t.teardown(async () => {
    const client = new Redis(SHARED_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
    client.on('error', () => {})
    try {
      await client.connect()
      await unlinkMatching(client, `${base}[.:]*`)
    } finally {
      client.disconnect()
    }
  })
  return { base, next: () => `${base}.${++n}` }
}

/** SCAN + UNLINK of the keys matching one pattern (never anything else). */
export async function unlinkMatching (client: Redis, pattern: string): Promise<number> {
  let cursor = '0'
  let count = 0
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    if (found.length > 0) count += await client.unlink(...found)
    cursor = next
  } while (cursor !== '0')
  return count
}

/** A Redis client for a test's own inspection, closed when the test ends. */
export function redisClient (t: Test, url = SHARED_REDIS_URL): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  t.teardown(() => { client.disconnect() })
  return client
}

export type Sql = <R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<R[]>

/** One SQL session on a database, for the test's own writes; closed when the test ends. */
export async function sqlSession (t: Test, databaseUrl: string): Promise<{ sql: Sql, client: pg.Client }> {
  const client = new pg.Client({ connectionString: databaseUrl })
  client.on('error', () => {})
  await client.connect()
  t.teardown(() => client.end().catch(() => {}))
  const sql: Sql = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) =>
    (await client.query<R>(text, values)).rows
  return { sql, client }
}

export interface Instance {
  /** The root instance: the app is registered fastify-plugin-wrapped, so its decorators are here. */
  app: FastifyInstance
  databaseUrl: string
  /** `app.cache`: the cache, its metrics and the change listener (null with CACHE=off). */
  state: CacheState | null
  pool: pg.Pool
  repos: Repositories
  sql: Sql
}

/**
 * The app as server.ts builds it, but wrapped with fastify-plugin so `cache`, `pg` and `repos`
 * are reachable from the returned instance. On a fresh database unless `databaseUrl` is given
 * (a second instance on the first one's database). Closed when the test ends.
 */
export async function buildInstance (
  t: Test, env: Record<string, string> = {}, options: { databaseUrl?: string } = {}
): Promise<Instance> {
  const config = testConfig(env)
  const databaseUrl = options.databaseUrl ?? await createTestDatabase(t)
  const { sql } = await sqlSession(t, databaseUrl)
  const server = Fastify(serverOptions(config))
  await server.register(fp<AppOptions>(app), { config: { ...config, DATABASE_URL: databaseUrl } })
  await server.ready()
  t.teardown(() => server.close())
  return { app: server, databaseUrl, state: server.cache, pool: server.pg, repos: server.repos, sql }
}

/** The cache of an instance built with the cache on. */
export function cacheOf (instance: Instance): CacheState {
  if (instance.state === null) throw new Error('built with CACHE=off')
  return instance.state
}

export type QueryHook = (text: string) => Promise<void> | undefined

/**
 * Wraps the instance's pool.query (which every repository read goes through): counts the
 * statements whose text matches, and runs `after` (awaited) once a statement has its result and
 * before its caller gets it, to hold a read with its (by then possibly stale) result.
 */
export function watchQueries (instance: Instance, after?: QueryHook) {
  const pool = instance.pool as unknown as { query: (...args: unknown[]) => Promise<unknown> }
  const original = pool.query
  const texts: string[] = []
  pool.query = async function (this: unknown, ...args: unknown[]) {
    const first = args[0]
    const text = typeof first === 'string' ? first : String((first as { text?: string } | undefined)?.text ?? '')
    texts.push(text)
    const result = await original.apply(instance.pool, args)
    const hold = after?.(text)
    if (hold !== undefined) await hold
    return result
  }
  return {
    texts,
    count: (pattern: RegExp) => texts.filter(text => pattern.test(text)).length,
    restore: () => { pool.query = original }
  }
}

/** The SQL of each cached fetch, to count them (see src/repositories). */
export const FETCH = {
  articles: /FROM articles a WHERE a\.id = ANY/,
  slugs: /slug = ANY/,
  users: /FROM users WHERE id = ANY/,
  usernames: /FROM users WHERE username = ANY/,
  comments: /FROM comments c WHERE c\.article_id = ANY/,
  listPage: /ORDER BY a\.created_at DESC, a\.id DESC LIMIT \$1 OFFSET \$2/,
  tags: /CROSS JOIN LATERAL/,
  favorites: /FROM favorites WHERE user_id = u\.id/,
  follows: /FROM follows WHERE follower_id = u\.id/
}

/** A free TCP port on 127.0.0.1 (free when asked). */
export async function freePort (): Promise<number> {
  const probe = net.createServer()
  await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as net.AddressInfo).port
  await new Promise(resolve => probe.close(resolve))
  return port
}

/** A port nothing listens on: connections are refused. */
export const closedPort = freePort

/** A redis-server of the test's own (never the shared one): stop it, start it again, kill it at the end. */
export async function ownRedis (t: Test) {
  const port = await freePort()
  let child: ReturnType<typeof spawn> | undefined
  const url = `redis://127.0.0.1:${port}`

  async function start (): Promise<void> {
    if (child !== undefined) return
    const proc = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'
    ], { stdio: 'ignore' })
    child = proc
    proc.on('exit', () => { if (child === proc) child = undefined })
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    probe.on('error', () => {})
    try {
      await until(async () => {
        try {
          if (probe.status !== 'ready') await probe.connect()
          return (await probe.ping()) === 'PONG'
        } catch {
          probe.disconnect()
          return false
        }
      }, `redis-server on port ${port}`)
    } finally {
      probe.disconnect()
    }
  }

  async function stop (): Promise<void> {
    const proc = child
    if (proc === undefined) return
    child = undefined
    const exited = new Promise(resolve => proc.once('exit', resolve))
    proc.kill('SIGKILL')
    await exited
  }

  t.teardown(stop)
  await start()
  return { port, url, start, stop, get running () { return child !== undefined } }
}

/**
 * A TCP proxy in front of a Redis (or anything): `cut()` closes every connection and refuses new
 * ones (a partition; the server keeps its data), `restore()` accepts again. `delayMs` delays every
 * chunk both ways (a slow Redis); `onClientData` may hold or drop a client-to-server chunk.
 */
export async function tcpProxy (t: Test, targetPort: number, targetHost = '127.0.0.1') {
  const port = await freePort()
  const sockets = new Set<net.Socket>()
  const sent: string[] = []
  const events: string[] = []
  const started = Date.now()
  const event = (what: string) => { events.push(`${Date.now() - started} ms ${what}`) }
  const state = {
    delayMs: 0,
    /** Resolves to false to drop the chunk and close its connection. */
    onClientData: undefined as ((chunk: string) => Promise<boolean> | undefined) | undefined
  }

  const server = net.createServer(client => {
    event('connection')
    const upstream = net.connect(targetPort, targetHost)
    sockets.add(client)
    sockets.add(upstream)
    let toServer = Promise.resolve()
    let toClient = Promise.resolve()
    // Each chunk is due `delayMs` after it arrived, in order: latency, not a growing backlog.
    const wait = async (due: number) => { if (due > Date.now()) await sleep(due - Date.now()) }
    client.on('data', chunk => {
      const due = Date.now() + state.delayMs
      toServer = toServer.then(async () => {
        const text = chunk.toString('latin1')
        sent.push(text)
        await wait(due)
        const verdict = state.onClientData?.(text)
        if (verdict !== undefined && !(await verdict)) {
          client.destroy()
          upstream.destroy()
          return
        }
        if (!upstream.destroyed) upstream.write(chunk)
      })
    })
    upstream.on('data', chunk => {
      const due = Date.now() + state.delayMs
      toClient = toClient.then(async () => {
        await wait(due)
        if (!client.destroyed) client.write(chunk)
      })
    })
    const close = () => {
      sockets.delete(client)
      sockets.delete(upstream)
      client.destroy()
      upstream.destroy()
    }
    client.on('end', () => event('client ended'))
    upstream.on('end', () => event('server ended'))
    for (const socket of [client, upstream]) {
      socket.on('close', close)
      socket.on('error', err => event(`error ${err.message}`))
    }
  })

  const listen = () => new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  /** Refuses new connections; those already open keep working. */
  const refuse = () => {
    if (server.listening) server.close()
  }
  const cut = async () => {
    const closed = server.listening ? new Promise(resolve => server.close(resolve)) : Promise.resolve()
    for (const socket of sockets) socket.destroy()
    await closed
  }
  t.teardown(cut)
  await listen()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    /** Client-to-server chunks, as text. */
    sent,
    /** Connections and their ends, timed. */
    events,
    state,
    cut,
    refuse,
    restore: listen,
    get connections () { return sockets.size / 2 }
  }
}

/** Waits until an instance's LISTEN connection is up (and its reset, if any, done). */
export async function listening (instance: Instance, timeoutMs = 10000): Promise<void> {
  await until(() => cacheOf(instance).listener.ready, 'the change listener', timeoutMs)
}

/** Terminates the app's LISTEN backend on its own test database (and no other session). */
export async function killListener (instance: Instance): Promise<number> {
  const database = new URL(instance.databaseUrl).pathname.slice(1)
  const pid = await until(async () => (await instance.sql<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = $2',
    [`${LISTENER_APPLICATION_NAME} ${cacheOf(instance).peers.id}`, database]))[0]?.pid, 'the listener backend')
  await instance.sql('SELECT pg_terminate_backend($1)', [pid])
  return pid
}

/** GET through an app, as a viewer or anonymously. */
export async function get (app: FastifyInstance, url: string, viewer?: TestUser): Promise<LightMyRequestResponse> {
  const options: InjectOptions = { method: 'GET', url }
  if (viewer !== undefined) options.headers = auth(viewer)
  return app.inject(options)
}

/**
 * Status and body of a GET, as one comparable string. A token (GET /api/user) is signed anew on
 * every answer, its `iat` in seconds: it is shown as the user id it names, the rest byte for byte.
 */
export async function read (app: FastifyInstance, url: string, viewer?: TestUser): Promise<string> {
  const res = await get(app, url, viewer)
  return `${res.statusCode} ${res.body.replace(/"token":"[\w-]+\.([\w-]+)\.[\w-]+"/g, (_, payload: string) =>
    `"token":"<token of ${String((JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub: unknown }).sub)}>"`)}`
}

/** JSON of a GET that must answer 200. */
export async function json<T = Record<string, unknown>> (app: FastifyInstance, url: string, viewer?: TestUser): Promise<T> {
  const res = await get(app, url, viewer)
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body}`)
  return res.json() as T
}

/** Sends a write through an app; throws unless it answers `status`. */
export async function write (
  app: FastifyInstance, method: 'POST' | 'PUT' | 'DELETE', url: string, viewer: TestUser, payload?: unknown, status?: number
): Promise<LightMyRequestResponse> {
  const headers = { ...auth(viewer), 'content-type': 'application/json' }
  const res = await app.inject(payload === undefined ? { method, url, headers } : { method, url, headers, payload: payload as Record<string, unknown> })
  const expected = status ?? (method === 'DELETE' && !url.endsWith('/favorite') && !url.endsWith('/follow') ? 204 : method === 'POST' && url === '/api/articles' ? 201 : 200)
  if (res.statusCode !== expected) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
  return res
}

export interface Seeded {
  users: TestUser[]
  /** slugs, in creation order */
  slugs: string[]
}

/**
 * A small Conduit: users with bios and images, articles with tags (one non-ASCII), favorites,
 * follows and comments, so every per-viewer flag and every filter has something to show.
 */
export async function seed (app: FastifyInstance, prefix = 'u'): Promise<Seeded> {
  const users: TestUser[] = []
  for (const name of ['jake', 'jane', 'bob']) {
    users.push(await registerUser(app, `${prefix}${name}`))
  }
  const [jake, jane, bob] = users as [TestUser, TestUser, TestUser]
  await write(app, 'PUT', '/api/user', jake, { user: { bio: 'I work at statefarm', image: 'https://i.example/jake.png' } })
  await write(app, 'PUT', '/api/user', jane, { user: { bio: 'Zookeeper' } })
  const slugs: string[] = []
  const articles: Array<[TestUser, string, string[]]> = [
    [jake, 'How to train your dragon', ['dragons', 'training']],
    [jake, 'Dragons again', ['dragons']],
    [jake, 'Untagged', []],
    [jane, 'Zoo life', ['zoo', 'Ünïcode 🐉']],
    [jane, 'Zoo night', ['zoo']],
    [bob, 'Bob writes', ['training']]
  ]
  for (const [author, title, tagList] of articles) {
    const res = await write(app, 'POST', '/api/articles', author, {
      article: { title, description: `About ${title}`, body: `The body of ${title}`, tagList }
    })
    slugs.push(res.json().article.slug)
  }
  const [a0, a1, , a3] = slugs as [string, string, string, string]
  await write(app, 'POST', `/api/articles/${a0}/favorite`, jane)
  await write(app, 'POST', `/api/articles/${a1}/favorite`, jane)
  await write(app, 'POST', `/api/articles/${a0}/favorite`, bob)
  await write(app, 'POST', `/api/articles/${a3}/favorite`, jake)
  await write(app, 'POST', `/api/profiles/${jake.username}/follow`, jane)
  await write(app, 'POST', `/api/profiles/${jake.username}/follow`, bob)
  await write(app, 'POST', `/api/profiles/${jane.username}/follow`, bob)
  await write(app, 'POST', `/api/articles/${a0}/comments`, jane, { comment: { body: 'Nice dragons' } })
  await write(app, 'POST', `/api/articles/${a0}/comments`, bob, { comment: { body: 'Agreed' } })
  await write(app, 'POST', `/api/articles/${a0}/comments`, jane, { comment: { body: 'Me again' } })
  await write(app, 'POST', `/api/articles/${a3}/comments`, jake, { comment: { body: 'Lovely zoo' } })
  return { users, slugs }
}

/** Every read route over the current data (list filters for every tag and user), for one viewer. */
export async function readUrls (oracle: FastifyInstance, viewer?: TestUser): Promise<string[]> {
  const urls: string[] = ['/api/tags', '/api/articles', '/api/articles?limit=2&offset=1']
  const all = await json<{ articles: Array<{ slug: string, author: { username: string } }> }>(oracle, '/api/articles?limit=100')
  const tags = (await json<{ tags: string[] }>(oracle, '/api/tags')).tags
  const usernames = new Set(all.articles.map(a => a.author.username))
  if (viewer !== undefined) {
    usernames.add(viewer.username)
    urls.push('/api/user', '/api/articles/feed')
  }
  for (const a of all.articles) urls.push(`/api/articles/${encodeURIComponent(a.slug)}`, `/api/articles/${encodeURIComponent(a.slug)}/comments`)
  for (const tag of tags) urls.push(`/api/articles?tag=${encodeURIComponent(tag)}`)
  for (const name of usernames) {
    urls.push(`/api/profiles/${encodeURIComponent(name)}`, `/api/articles?author=${encodeURIComponent(name)}`,
      `/api/articles?favorited=${encodeURIComponent(name)}`)
  }
  return urls
}

/** Runs `work` over `items`, `concurrency` at a time, keeping the order of the results. */
export async function mapLimit<T, R> (items: T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await work(items[i] as T)
    }
  }))
  return results
}

export interface Probe { url: string, viewer?: TestUser }

/** How a probe is named in `answers` and `differences`. */
export const probeKey = (p: Probe) => `${p.viewer?.username ?? 'anonymous'} GET ${p.url}`

/** The probes (url × viewer) whose answer differs between two apps; [] when all agree. */
export async function differences (
  cached: FastifyInstance, oracle: FastifyInstance, probes: Probe[], expected?: Map<string, string>
): Promise<Array<{ probe: string, cached: string, oracle: string }>> {
  const out: Array<{ probe: string, cached: string, oracle: string }> = []
  await mapLimit(probes, 8, async ({ url, viewer }) => {
    const key = probeKey({ url, viewer })
    const [a, b] = await Promise.all([read(cached, url, viewer), expected?.get(key) ?? read(oracle, url, viewer)])
    if (a !== b) out.push({ probe: key, cached: a.slice(0, 400), oracle: b.slice(0, 400) })
  })
  return out
}

/** Every probe for these viewers (undefined: anonymous). */
export async function allProbes (oracle: FastifyInstance, viewers: Array<TestUser | undefined>, extra: string[] = []): Promise<Probe[]> {
  const probes: Probe[] = []
  for (const viewer of viewers) {
    for (const url of new Set([...await readUrls(oracle, viewer), ...extra])) probes.push({ url, viewer })
  }
  return probes
}

/** Oracle answers of every probe, keyed as `differences` names them. */
export async function answers (oracle: FastifyInstance, probes: Probe[]): Promise<Map<string, string>> {
  const map = new Map<string, string>()
  await mapLimit(probes, 8, async ({ url, viewer }) => {
    map.set(probeKey({ url, viewer }), await read(oracle, url, viewer))
  })
  return map
}

export interface WriteCheck {
  cached: Instance
  oracle: Instance
  /** The reads to check, computed before and again after the write (default: allProbes). */
  probes: () => Promise<Probe[]>
  /** 0: every read must be fresh right after the write; otherwise within this many ms of it. */
  deadlineMs?: number
  /** Uncached answers known to be current (kept up to date here), to spare reading them again. */
  memo?: Map<string, string>
}

/**
 * Primes every read (twice: first read fills, second is served from the cache), runs the write,
 * then checks every read — those of before and after the write, so old slugs and usernames too —
 * against the uncached instance, then again after emptying the in-process tier (Redis, if any).
 * Returns how long it took the cached instance to be fresh, and how many reads the write changed.
 */
export async function checkWrite (t: Test, { cached, oracle, probes, deadlineMs = 0, memo }: WriteCheck, change: () => Promise<void>) {
  const before = await probes()
  const old = new Map(memo)
  for (const [k, v] of await answers(oracle.app, before.filter(p => !old.has(probeKey(p))))) old.set(k, v)
  const same = (got: Map<string, string>, want: Map<string, string>, list: Probe[]) => list.map(probeKey)
    .filter(k => got.get(k) !== want.get(k)).map(k => ({ probe: k, cached: got.get(k)?.slice(0, 300), oracle: want.get(k)?.slice(0, 300) }))
  t.same(same(await answers(cached.app, before), old, before), [], 'before: cached = uncached (first read)')
  t.same(same(await answers(cached.app, before), old, before), [], 'before: cached = uncached (second read, cached)')
  let all = before
  let expected: Map<string, string>
  let stale: unknown[]
  let freshAfterMs: number
  await change()
  const done = Date.now()
  if (deadlineMs === 0) {
    // Right after the write, before anything else: what the cached instance answers.
    const first = await answers(cached.app, before)
    freshAfterMs = Date.now() - done
    all = [...new Map([...before, ...await probes()].map(p => [probeKey(p), p])).values()]
    expected = await answers(oracle.app, all)
    stale = same(first, expected, before)
    t.same(stale, [], `right after the write (read within ${freshAfterMs} ms of it): every read is fresh`)
  } else {
    all = [...new Map([...before, ...await probes()].map(p => [probeKey(p), p])).values()]
    // Each read is timed from its start: a read that began at t after the commit and answered
    // fresh data shows the change was visible by t. Stale ones are read again until fresh.
    const timed = async (list: Probe[]) => {
      const got = new Map<string, { body: string, at: number }>()
      await mapLimit(list, 8, async ({ url, viewer }) => {
        const at = Date.now() - done
        got.set(probeKey({ url, viewer }), { body: await read(cached.app, url, viewer), at })
      })
      return got
    }
    // A loaded machine can stall this process (timers, sockets, everything) for a while: the
    // deadline is in the process's own time, so it is extended by the longest stall seen.
    const stalls = monitorEventLoopDelay({ resolution: 10 })
    stalls.enable()
    const stalledMs = () => Math.max(0, Math.round(stalls.max / 1e6) - 10)
    let got = await timed(all)
    expected = await answers(oracle.app, all)
    let pending = all
    let lastStale = -1
    freshAfterMs = 0
    for (;;) {
      pending = pending.filter(p => {
        const answer = got.get(probeKey(p))
        if (answer?.body !== expected.get(probeKey(p))) {
          lastStale = Math.max(lastStale, answer?.at ?? 0)
          return true
        }
        freshAfterMs = Math.max(freshAfterMs, answer?.at ?? 0)
        return false
      })
      if (pending.length === 0 || Date.now() - done > deadlineMs + stalledMs()) break
      await sleep(20)
      got = await timed(pending)
    }
    stalls.disable()
    stale = same(new Map([...got].map(([k, v]) => [k, v.body])), expected, pending)
    const staleness = lastStale < 0 ? 'no stale answer at all' : `last stale answer from a read begun ${lastStale} ms after it`
    t.same(stale, [], `every read fresh within ${deadlineMs} ms of the commit (${staleness}; longest stall of this process ${stalledMs()} ms)`)
    freshAfterMs = Math.max(0, lastStale)
  }
  if (memo !== undefined) {
    memo.clear()
    for (const [k, v] of expected) memo.set(k, v)
  }
  const changed = all.filter(p => old.get(probeKey(p)) !== expected.get(probeKey(p))).length
  t.ok(changed > 0, `the write changed ${changed} of ${all.length} reads`)
  t.same(same(await answers(cached.app, all), expected, all), [], 'read again: still fresh')
  cacheOf(cached).cache.flushHot()
  t.same(same(await answers(cached.app, all), expected, all), [], 'in-process tier emptied (Redis, then PostgreSQL): fresh')
  return { changed, freshAfterMs: stale.length === 0 ? freshAfterMs : Infinity }
}

/**
 * A DATABASE_LISTEN_URL through a TCP proxy of the test's own: `proxy.state.delayMs` delays the
 * change notifications, `proxy.refuse()` keeps the listener from reconnecting.
 */
export async function listenProxy (t: Test, databaseUrl: string) {
  const url = new URL(databaseUrl)
  const proxy = await tcpProxy(t, Number(url.port || 5432), url.hostname)
  url.port = String(proxy.port)
  return { url: url.toString(), proxy }
}
