// Throughput of the service before, during and after PostgreSQL goes silent: a TCP proxy between
// them drops every byte both ways without FIN or RST (a failover, a NAT or firewall idle
// timeout), then lets new connections through again (the silenced ones stay silent). Reports
// per-phase 2xx/s and 503/s for reads and writes (comments), latency, how soon it answers again,
// whether any acknowledged write is missing from the database afterwards, and what the outage logged.
// npm run build && npm run bench:build && node dist-bench/faults.js [before_s during_s after_s]
import { randomBytes } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { createDatabase, DEFAULT_SERVER_URL, dropDatabase } from './db.js'
import { freePort, startService } from './server.js'
import { silencingProxy } from './silencing-proxy.js'

const [beforeS = 10, duringS = 20, afterS = 15] = process.argv.slice(2).map(Number)
const serverUrl = process.env.BENCH_DATABASE_URL ?? DEFAULT_SERVER_URL

function percentile (sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

const name = `bench_faults_${process.pid}`
const direct = new URL(await createDatabase(serverUrl, name))
const proxy = await silencingProxy(direct, await freePort())
const proxied = new URL(direct)
proxied.port = String(proxy.port)
const logFile = join(tmpdir(), `${name}.log`)
const service = await startService({ databaseUrl: proxied.toString(), jwtSecret: randomBytes(32).toString('base64url'), logFile, cache: 'off' })
try {
  // A writer with an article to comment on: the writes under load are comments on it.
  const api = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(`${service.url}/api${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Token ${token}` }) },
      body: JSON.stringify(body)
    })
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`)
    return await res.json() as Record<string, Record<string, string>>
  }
  const token = (await api('/users', { user: { username: 'faults', email: 'faults@bench.local', password: 'password123' } })).user?.token as string
  const slug = (await api('/articles', { article: { title: 'Under faults', description: 'd', body: 'b' } }, token)).article?.slug as string

  type Kind = 'read' | 'write'
  const responses: Array<{ at: number, status: number, ms: number, kind: Kind }> = []
  const started = Date.now()
  const duration = beforeS + duringS + afterS
  const load = (kind: Kind, options: autocannon.Options) => new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({ ...options, duration, timeout: 60 }, (err, result) => err ? reject(err) : resolve(result))
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      responses.push({ at: Date.now() - started, status, ms, kind })
    })
  })
  let seq = 0
  const done = Promise.all([
    load('read', { url: `${service.url}/api/tags`, connections: 16 }),
    load('write', {
      url: `${service.url}/api/articles/${slug}/comments`,
      connections: 4,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Token ${token}` },
      requests: [{ setupRequest: req => ({ ...req, body: JSON.stringify({ comment: { body: `under faults ${++seq}` } }) }) }]
    })
  ]).then(([reads, writes]) => ({ duration: Math.max(reads.duration, writes.duration), errors: reads.errors + writes.errors, timeouts: reads.timeouts + writes.timeouts }))
  let silencedAt = 0
  let reachableAt = 0
  let logBytesAtSilence = 0
  setTimeout(() => {
    logBytesAtSilence = statSync(logFile).size
    silencedAt = Date.now() - started
    proxy.silence()
  }, beforeS * 1000)
  setTimeout(() => {
    reachableAt = Date.now() - started
    proxy.reachable()
  }, (beforeS + duringS) * 1000)
  const result = await done

  const ok = (status: number) => status >= 200 && status < 300
  const phase = (label: string, from: number, to: number) => {
    for (const kind of ['read', 'write'] as const) {
      // A response belongs to the phase its request was sent in.
      const inPhase = responses.filter(r => r.kind === kind && r.at - r.ms >= from && r.at - r.ms < to)
      const seconds = (to - from) / 1000
      const rate = (match: (status: number) => boolean) => (inPhase.filter(r => match(r.status)).length / seconds).toFixed(1).padStart(7)
      const ms = inPhase.map(r => r.ms).sort((a, b) => a - b)
      console.log(`${label.padEnd(7)} ${kind.padEnd(5)} ${seconds.toFixed(1).padStart(5)} s  2xx/s ${rate(ok)}  503/s ${rate(s => s === 503)}` +
        `  other/s ${rate(s => !ok(s) && s !== 503)}  p50 ${percentile(ms, 0.5)} ms  p99 ${percentile(ms, 0.99)} ms  max ${ms.at(-1) ?? NaN} ms`)
    }
  }
  phase('before', 0, silencedAt)
  phase('silent', silencedAt, reachableAt)
  phase('after', reachableAt, result.duration * 1000)
  for (const kind of ['read', 'write'] as const) {
    const first = responses.find(r => r.kind === kind && ok(r.status) && r.at - r.ms >= reachableAt)
    console.log(`first ${kind} answered 2xx, sent ${first === undefined ? 'never' : `${first.at - first.ms - reachableAt} ms`} after PostgreSQL was reachable again`)
  }
  console.log(`requests: ${responses.length}, 503: ${responses.filter(r => r.status === 503).length}; autocannon errors ${result.errors}, timeouts ${result.timeouts}`)
  // Every acknowledged write is in the database (a 503 may have committed too: those are extra, not lost).
  const acknowledged = responses.filter(r => r.kind === 'write' && ok(r.status)).length
  const stored = Number((await (await fetch(`${service.url}/api/articles/${slug}/comments`)).json() as { comments: unknown[] }).comments.length)
  console.log(`writes acknowledged: ${acknowledged}; comments stored: ${stored}; lost: ${Math.max(0, acknowledged - stored)}`)

  const log = readFileSync(logFile, 'utf8')
  const outage = log.slice(logBytesAtSilence).split('\n').filter(line => line.startsWith('{'))
    .map(line => JSON.parse(line) as { level: number, msg: string })
  const byLevel = (level: number) => outage.filter(l => l.level === level).length
  console.log(`log from the silence on: ${outage.length} lines, ${Buffer.byteLength(log.slice(logBytesAtSilence)) / 1e6} MB; ` +
    `error ${byLevel(50)}, warn ${byLevel(40)}, with a stack ${outage.filter(l => JSON.stringify(l).includes('"stack"')).length}`)
  for (const line of outage.filter(l => l.level >= 40 || /^PostgreSQL/.test(l.msg)).slice(0, 5)) console.log('  ', JSON.stringify(line))
} finally {
  await service.stop()
  await proxy.close()
  await dropDatabase(serverUrl, name)
}
