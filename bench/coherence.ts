import { Agent, request } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { percentiles } from './load.js'
import type { CacheMode, CoherenceFigures, CoherenceResult } from './results.js'
import type { Service } from './server.js'

/**
 * Cache coherence across instances: how long after a change every instance serves it.
 *
 * Two kinds of change, one at a time, `gapMs` apart:
 * - plain SQL by another client (`UPDATE articles SET title = …`, as another service would
 *   write): from COMMIT returning until every instance serves the new title, on the article and on
 *   the home page list;
 * - `PUT /api/articles/:slug` (a new description) through instance A, A rotating over the
 *   instances: from A's 2xx until every other instance serves it; A's own answers must already be
 *   fresh (read-your-writes), and how often the other instances' first read is already fresh.
 *
 * Each instance is polled with back-to-back requests (one connection per instance and page, so an
 * instance's article and list are polled side by side), and polling goes on until every instance
 * is fresh: an instance that served the new value and then the old one again is a flip-back. A
 * change not visible everywhere within `timeoutMs` is a timeout. Times are taken when the first
 * fresh response has arrived, so they include one request's round trip (the cache-off figures
 * are about that floor).
 */
export interface CoherenceOptions {
  instances: Service[]
  /** the bench database, for the plain SQL writer */
  dbUrl: string
  /** a token of the article's author (PUT needs the author) */
  token: string
  article: { id: number, slug: string }
  /** changes of each kind */
  changes: number
  gapMs: number
  timeoutMs: number
  cache: CacheMode
  redisPrefix?: string
  onProgress?: (line: string) => void
}

/** The home page: the article is the newest, so it is on it. */
const LIST_PATH = '/api/articles?limit=20&offset=0'
/** Consecutive timeouts after which a series stops (a broken invalidation would otherwise take changes x timeout). */
const MAX_CONSECUTIVE_TIMEOUTS = 5

interface Response { status: number, body: string }

function send (agent: Agent, base: URL, path: string, timeoutMs: number, opts: { method?: string, token?: string, body?: unknown } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body)
    const headers: Record<string, string> = {}
    if (opts.token !== undefined) headers.authorization = `Token ${opts.token}`
    if (payload !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = String(Buffer.byteLength(payload))
    }
    const req = request({ host: base.hostname, port: base.port, path, method: opts.method ?? 'GET', headers, agent }, res => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.setTimeout(Math.max(1, timeoutMs), () => req.destroy(new Error(`no answer within ${Math.round(timeoutMs)} ms`)))
    req.on('error', reject)
    req.end(payload)
  })
}

type Json = Record<string, unknown>
/** The field of the article as this page shows it, or undefined when it is not on it. */
type Extract = (body: Json) => unknown

const fromArticle = (field: string): Extract => body => (body.article as Json | undefined)?.[field]
const fromList = (slug: string, field: string): Extract => body =>
  (body.articles as Json[] | undefined)?.find(a => a.slug === slug)?.[field]

interface Target {
  instance: number
  page: 'article' | 'list'
  path: string
  agent: Agent
}

interface Watched {
  /** ms from t0 to the first fresh answer, per target; undefined: never within the deadline */
  freshAt: Array<number | undefined>
  /** whether each target's first answer was already fresh */
  firstFresh: Array<boolean | undefined>
  errors: number
  flipBacks: number
}

class Series {
  times: number[] = []
  timeouts = 0
  errors = 0
  flipBacks = 0
  extraFailures = 0
  slowest: { ms: number, what: string } | undefined

  figures (): CoherenceFigures {
    const latency = percentiles(Float64Array.from(this.times))
    const failures = this.timeouts + this.errors + this.flipBacks + this.extraFailures
    return {
      ...latency,
      changes: this.times.length + this.timeouts,
      timeouts: this.timeouts,
      errors: this.errors,
      flipBacks: this.flipBacks,
      failures,
      slowest: this.slowest?.what
    }
  }
}

export async function runCoherence (opts: CoherenceOptions): Promise<CoherenceResult> {
  const { instances, article, timeoutMs } = opts
  if (instances.length < 2) throw new Error('coherence needs at least two instances')
  const bases = instances.map(s => new URL(s.url))
  const samples: string[] = []
  const note = (line: string) => { if (samples.length < 8) samples.push(line) }
  const agents: Agent[] = []
  const agent = () => {
    const a = new Agent({ keepAlive: true, maxSockets: 1 })
    agents.push(a)
    return a
  }
  const articlePath = `/api/articles/${encodeURIComponent(article.slug)}`
  const targets: Target[] = instances.flatMap((_, i) => [
    { instance: i, page: 'article' as const, path: articlePath, agent: agent() },
    { instance: i, page: 'list' as const, path: LIST_PATH, agent: agent() }
  ])
  const writeAgents = instances.map(() => agent())

  /** Polls `watched` back to back until each has served `expected` (then all stop) or the deadline. */
  async function watch (watched: Target[], field: string, expected: string, t0: number, what: string): Promise<Watched> {
    const deadline = t0 + timeoutMs
    const result: Watched = { freshAt: watched.map(() => undefined), firstFresh: watched.map(() => undefined), errors: 0, flipBacks: 0 }
    let pending = watched.length
    await Promise.all(watched.map(async (target, k) => {
      const extract = target.page === 'article' ? fromArticle(field) : fromList(article.slug, field)
      while (pending > 0) {
        const left = deadline - performance.now()
        if (left <= 0) return
        let fresh: boolean
        try {
          const res = await send(target.agent, bases[target.instance] as URL, target.path, left)
          if (res.status !== 200) throw new Error(`status ${res.status}: ${res.body.slice(0, 120)}`)
          const value = extract(JSON.parse(res.body) as Json)
          if (value === undefined) throw new Error(`the article is not on ${target.path}`)
          fresh = value === expected
        } catch (err) {
          if (performance.now() >= deadline) return // cut short by the deadline: a timeout, counted below
          result.errors++
          note(`${what}: instance ${target.instance} ${target.page}: ${(err as Error).message}`)
          await sleep(5)
          continue
        }
        const at = performance.now() - t0
        result.firstFresh[k] ??= fresh
        if (fresh && result.freshAt[k] === undefined) {
          result.freshAt[k] = at
          pending--
        } else if (!fresh && result.freshAt[k] !== undefined) {
          result.flipBacks++
          note(`${what}: instance ${target.instance} ${target.page} served the old value again ${at.toFixed(1)} ms after the change (fresh at ${(result.freshAt[k] as number).toFixed(1)} ms)`)
        }
      }
    }))
    return result
  }

  /** One change's outcome into the article and list series: the slowest instance is the figure. */
  function record (w: Watched, watched: Target[], into: { article: Series, list: Series }, what: string): boolean {
    let timedOut = false
    for (const page of ['article', 'list'] as const) {
      const series = into[page]
      const idx = watched.flatMap((t, k) => t.page === page ? [k] : [])
      if (idx.length === 0) continue
      const late = idx.filter(k => w.freshAt[k] === undefined)
      if (late.length > 0) {
        series.timeouts++
        timedOut = true
        note(`${what}: ${page} not fresh on instance ${late.map(k => watched[k]?.instance).join(', ')} within ${timeoutMs} ms`)
      } else {
        const ms = Math.max(...idx.map(k => w.freshAt[k] as number))
        series.times.push(ms)
        if (series.slowest === undefined || ms > series.slowest.ms) {
          const each = idx.map(k => `instance ${watched[k]?.instance} ${(w.freshAt[k] as number).toFixed(1)} ms`).join(', ')
          series.slowest = { ms, what: `${what}: ${each}` }
        }
      }
    }
    // Errors and flip-backs are per change, counted against the article series (they are rare, and
    // any is a failure).
    into.article.errors += w.errors
    into.article.flipBacks += w.flipBacks
    return timedOut
  }

  async function warm (): Promise<void> {
    for (const target of targets) {
      for (let i = 0; i < 3; i++) {
        const res = await send(target.agent, bases[target.instance] as URL, target.path, 5000)
        if (res.status !== 200) throw new Error(`warming ${target.path} on instance ${target.instance}: ${res.status} ${res.body.slice(0, 200)}`)
      }
    }
  }

  const client = new pg.Client({ connectionString: opts.dbUrl, application_name: 'gravity-bench-writer' })
  await client.connect()
  // The bench's own LISTEN: when PostgreSQL delivers each change's notification, the floor under
  // what the instances can do (they LISTEN the same way).
  const listener = new pg.Client({ connectionString: opts.dbUrl, application_name: 'gravity-bench-listener' })
  await listener.connect()
  const notified = new Map<number, number>()
  listener.on('notification', msg => {
    if (msg.channel !== 'gravity_changes' || msg.payload === undefined) return
    try {
      const event = JSON.parse(msg.payload) as { t?: string, ids?: number[] }
      if (event.t === 'articles' && event.ids?.includes(article.id)) notified.set(notified.size, performance.now())
    } catch {}
  })
  await listener.query('LISTEN gravity_changes')
  const notifyTimes: number[] = []
  let notifyMissing = 0
  const tag = `${opts.cache}-${process.pid}-${Date.now().toString(36)}`
  const sql = { article: new Series(), list: new Series() }
  const api = { article: new Series(), list: new Series() }
  let firstReads = 0
  let firstReadFresh = 0
  let ownStale = 0
  try {
    await warm()

    let streak = 0
    for (let i = 0; i < opts.changes && streak < MAX_CONSECUTIVE_TIMEOUTS; i++) {
      const title = `Coherence ${tag} sql ${i}`
      await client.query('BEGIN')
      await client.query('UPDATE articles SET title = $1, updated_at = now() WHERE id = $2', [title, article.id])
      const before = notified.size
      await client.query('COMMIT')
      const t0 = performance.now()
      const w = await watch(targets, 'title', title, t0, `sql change ${i}`)
      const at = notified.get(before)
      if (at === undefined) notifyMissing++
      else notifyTimes.push(Math.max(0, at - t0))
      streak = record(w, targets, sql, `sql change ${i}`) ? streak + 1 : 0
      opts.onProgress?.(`sql change ${i + 1}/${opts.changes}`)
      await sleep(opts.gapMs)
    }
    if (streak >= MAX_CONSECUTIVE_TIMEOUTS) note(`sql: stopped after ${MAX_CONSECUTIVE_TIMEOUTS} timeouts in a row`)

    streak = 0
    for (let i = 0; i < opts.changes && streak < MAX_CONSECUTIVE_TIMEOUTS; i++) {
      const a = i % instances.length
      const description = `Coherence ${tag} api ${i}`
      const what = `api change ${i} via instance ${a}`
      let res: Response
      try {
        res = await send(writeAgents[a] as Agent, bases[a] as URL, articlePath, 10000, {
          method: 'PUT', token: opts.token, body: { article: { description } }
        })
      } catch (err) {
        api.article.extraFailures++
        note(`${what}: PUT failed: ${(err as Error).message}`)
        continue
      }
      const t0 = performance.now()
      if (res.status !== 200) {
        api.article.extraFailures++
        note(`${what}: PUT answered ${res.status}: ${res.body.slice(0, 200)}`)
        await sleep(opts.gapMs)
        continue
      }
      if (fromArticle('description')(JSON.parse(res.body) as Json) !== description) {
        ownStale++
        note(`${what}: the PUT response does not show the new description`)
      }
      // The other instances, and A itself: its first read must be fresh (read-your-writes).
      const others = targets.filter(t => t.instance !== a)
      const own = targets.filter(t => t.instance === a && t.page === 'article')
      const w = await watch([...others, ...own], 'description', description, t0, what)
      const ownIdx = others.length
      if (w.firstFresh[ownIdx] !== true) {
        ownStale++
        note(`${what}: instance ${a}'s own first read after its 2xx was stale`)
      }
      const othersW: Watched = {
        freshAt: w.freshAt.slice(0, ownIdx),
        firstFresh: w.firstFresh.slice(0, ownIdx),
        errors: w.errors,
        flipBacks: w.flipBacks
      }
      others.forEach((t, k) => {
        if (t.page !== 'article') return
        firstReads++
        if (othersW.firstFresh[k] === true) firstReadFresh++
      })
      streak = record(othersW, others, api, what) ? streak + 1 : 0
      opts.onProgress?.(`api change ${i + 1}/${opts.changes}`)
      await sleep(opts.gapMs)
    }
    if (streak >= MAX_CONSECUTIVE_TIMEOUTS) note(`api: stopped after ${MAX_CONSECUTIVE_TIMEOUTS} timeouts in a row`)
  } finally {
    await client.end().catch(() => {})
    await listener.end().catch(() => {})
    for (const a of agents) a.destroy()
  }
  api.article.extraFailures += ownStale

  return {
    cache: opts.cache,
    instances: instances.length,
    redisPrefix: opts.redisPrefix,
    timeoutMs,
    gapMs: opts.gapMs,
    sql: {
      article: sql.article.figures(),
      list: sql.list.figures(),
      notify: { ...percentiles(Float64Array.from(notifyTimes)), missing: notifyMissing }
    },
    api: { article: api.article.figures(), list: api.list.figures(), firstReadFresh, firstReads, ownStale },
    samples
  }
}
