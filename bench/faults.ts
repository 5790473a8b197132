// Throughput of the service before, during and after PostgreSQL goes silent: a TCP proxy between
// them drops every byte both ways without FIN or RST (a failover, a NAT or firewall idle
// timeout), then lets new connections through again (the silenced ones stay silent). Reports
// per-phase 200/s and 503/s, latency, how soon it answers 200 again, and what the outage logged.
// npm run build && npm run bench:build && node dist-bench/faults.js [before_s during_s after_s]
import { randomBytes } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { createDatabase, DEFAULT_SERVER_URL, dropDatabase } from './db.js'
import { freePort, startService } from './server.js'

const [beforeS = 10, duringS = 20, afterS = 15] = process.argv.slice(2).map(Number)
const serverUrl = process.env.BENCH_DATABASE_URL ?? DEFAULT_SERVER_URL

/** A proxy whose connections can all go silent (and stay so); `reachable()` serves new ones again. */
async function silencingProxy (target: URL) {
  const port = await freePort()
  const pairs = new Set<{ client: net.Socket, upstream: net.Socket, silent: boolean }>()
  let silent = false
  const server = net.createServer(client => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname)
    const pair = { client, upstream, silent }
    pairs.add(pair)
    client.on('data', data => { if (!pair.silent) upstream.write(data) })
    upstream.on('data', data => { if (!pair.silent) client.write(data) })
    for (const socket of [client, upstream]) {
      socket.on('error', () => {})
      socket.on('close', () => { pairs.delete(pair); client.destroy(); upstream.destroy() })
    }
  })
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
  return {
    port,
    silence: () => { silent = true; for (const pair of pairs) pair.silent = true },
    reachable: () => { silent = false },
    close: () => { for (const pair of pairs) pair.client.destroy(); server.close() }
  }
}

function percentile (sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

const name = `bench_faults_${process.pid}`
const direct = new URL(await createDatabase(serverUrl, name))
const proxy = await silencingProxy(direct)
const proxied = new URL(direct)
proxied.port = String(proxy.port)
const logFile = join(tmpdir(), `${name}.log`)
const service = await startService({ databaseUrl: proxied.toString(), jwtSecret: randomBytes(32).toString('base64url'), logFile, cache: 'off' })
try {
  const responses: Array<{ at: number, status: number, ms: number }> = []
  const started = Date.now()
  let finish!: (err: unknown, result: autocannon.Result) => void
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (err, result) => err ? reject(err) : resolve(result)
  })
  const instance = autocannon({ url: `${service.url}/api/tags`, connections: 20, duration: beforeS + duringS + afterS, timeout: 60 },
    (err, result) => finish(err, result))
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    responses.push({ at: Date.now() - started, status, ms })
  })
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

  const phase = (label: string, from: number, to: number) => {
    // A response belongs to the phase its request was sent in.
    const inPhase = responses.filter(r => r.at - r.ms >= from && r.at - r.ms < to)
    const seconds = (to - from) / 1000
    const count = (status: number) => inPhase.filter(r => r.status === status).length
    const ms = inPhase.map(r => r.ms).sort((a, b) => a - b)
    console.log(`${label.padEnd(7)} ${seconds.toFixed(1).padStart(5)} s  200/s ${(count(200) / seconds).toFixed(1).padStart(7)}` +
      `  503/s ${(count(503) / seconds).toFixed(1).padStart(7)}  p50 ${percentile(ms, 0.5)} ms  p99 ${percentile(ms, 0.99)} ms  max ${ms.at(-1) ?? NaN} ms`)
  }
  phase('before', 0, silencedAt)
  phase('silent', silencedAt, reachableAt)
  phase('after', reachableAt, result.duration * 1000)
  const first200 = responses.find(r => r.status === 200 && r.at - r.ms >= reachableAt)
  console.log(`first 200 sent ${first200 === undefined ? 'never' : `${first200.at - first200.ms - reachableAt} ms`} after PostgreSQL was reachable again`)
  console.log(`autocannon: errors ${result.errors}, timeouts ${result.timeouts}`)

  const log = readFileSync(logFile, 'utf8')
  const outage = log.slice(logBytesAtSilence).split('\n').filter(line => line.startsWith('{'))
    .map(line => JSON.parse(line) as { level: number, msg: string })
  const byLevel = (level: number) => outage.filter(l => l.level === level).length
  console.log(`log from the silence on: ${outage.length} lines, ${Buffer.byteLength(log.slice(logBytesAtSilence)) / 1e6} MB; ` +
    `error ${byLevel(50)}, warn ${byLevel(40)}, with a stack ${outage.filter(l => JSON.stringify(l).includes('"stack"')).length}`)
  for (const line of outage.filter(l => l.level >= 40 || /^PostgreSQL/.test(l.msg)).slice(0, 5)) console.log('  ', JSON.stringify(line))
} finally {
  await service.stop()
  proxy.close()
  await dropDatabase(serverUrl, name)
}
