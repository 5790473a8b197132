import autocannon from 'autocannon'
import type { Call, Scenario } from './scenarios.js'
import type { Service } from './server.js'

export interface LoadOptions {
  connections: number
  duration: number
  /** check the body of one response in this many (writes are always checked) */
  checkEvery: number
  /** called about once a second with the progress so far */
  onTick?: (progress: { elapsed: number, requests: number, failures: number }) => void
}

export interface Latency {
  p50: number
  p90: number
  p95: number
  p99: number
  max: number
  mean: number
}

export interface LoadResult {
  requests: number
  duration: number
  rps: number
  latency: Latency
  /** connection errors and timeouts */
  errors: number
  timeouts: number
  non2xx: number
  /** responses with another status than the one expected (2xx included) */
  wrongStatus: number
  /** sampled bodies that did not have the documented shape */
  badBodies: number
  checkedBodies: number
  statusCodes: Record<string, number>
  /** the first few failures, to say what went wrong */
  samples: string[]
  /** bytes received a response, headers included: what the wire carries */
  bytesPerResponse: number
  /** peak VmRSS of the service during the run, kB */
  peakRssKb?: number
  /** service CPU use during the run, % of one core */
  serverCpu?: number
}

interface Context { call?: Call }

/** Latency percentiles from every response time (ms), not autocannon's fixed set (it has no p95). */
export function percentiles (times: Float64Array): Latency {
  if (times.length === 0) return { p50: 0, p90: 0, p95: 0, p99: 0, max: 0, mean: 0 }
  const sorted = times.slice().sort()
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number
  let sum = 0
  for (const t of sorted) sum += t
  return { p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1] as number, mean: sum / sorted.length }
}

export async function runLoad (service: Service, scenario: Scenario, opts: LoadOptions): Promise<LoadResult> {
  let times = new Float64Array(1 << 16)
  let count = 0
  let wrongStatus = 0
  let badBodies = 0
  let checkedBodies = 0
  let seen = 0
  const samples: string[] = []
  const note = (line: string) => { if (samples.length < 5) samples.push(line) }

  function onResponse (status: number, body: string, context: object, headers?: Record<string, string | string[] | undefined>): void {
    const call = (context as Context).call
    if (call === undefined) return
    const described = `${call.kind}: ${call.method} ${call.path}`
    if (status !== call.status) {
      wrongStatus++
      note(`${described} -> ${status} (expected ${call.status}): ${body.slice(0, 200)}`)
      return
    }
    if (headers !== undefined) call.remember?.(headers)
    if (call.method === 'GET' && seen++ % opts.checkEvery !== 0) return
    checkedBodies++
    let problem: string | undefined
    if (status === 304) {
      problem = body === '' ? undefined : `a 304 with a body: ${body.slice(0, 100)}`
    } else if (call.encoded === true) {
      problem = headers?.['content-encoding'] === undefined ? 'not compressed' : undefined
    } else {
      try {
        problem = call.check(JSON.parse(body))
      } catch {
        problem = `not JSON: ${body.slice(0, 100)}`
      }
    }
    if (problem !== undefined) {
      badBodies++
      note(`${described} -> ${problem}`)
    }
  }

  const memory = { peak: 0 }
  const sampleMemory = () => {
    const m = service.memory()
    if (m !== undefined && m.rssKb > memory.peak) memory.peak = m.rssKb
  }
  sampleMemory()
  const poll = setInterval(sampleMemory, 100)
  const cpuBefore = service.cpuMs()
  const started = performance.now()

  let finish!: (err: unknown, result: autocannon.Result) => void
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (err, result) => err ? reject(err) : resolve(result)
  })
  const instance = autocannon({
    url: service.url,
    connections: opts.connections,
    duration: opts.duration,
    timeout: 10,
    requests: [{
      setupRequest (request, context) {
        const call = scenario.next()
        ;(context as Context).call = call
        const headers: Record<string, string> = { ...call.headers }
        if (call.token !== undefined) headers.authorization = `Token ${call.token}`
        let body: string | undefined
        if (call.body !== undefined) {
          body = JSON.stringify(call.body)
          headers['content-type'] = 'application/json'
        }
        return { ...request, method: call.method, path: call.path, headers, body }
      },
      onResponse
    }]
  }, (err, result) => finish(err, result))
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
    if (count === times.length) {
      const grown = new Float64Array(times.length * 2)
      grown.set(times)
      times = grown
    }
    times[count++] = responseTime
  })
  let failuresSoFar = 0
  instance.on('reqError', () => { failuresSoFar++ })
  const tick = setInterval(() => {
    opts.onTick?.({ elapsed: (performance.now() - started) / 1000, requests: count, failures: failuresSoFar + wrongStatus + badBodies })
  }, 1000)

  let result: autocannon.Result
  try {
    result = await done
  } finally {
    clearInterval(tick)
    clearInterval(poll)
  }
  sampleMemory()
  const elapsedMs = performance.now() - started
  const cpuAfter = service.cpuMs()

  const statusCodes: Record<string, number> = {}
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = (stats as { count: number }).count

  return {
    requests: count,
    duration: result.duration,
    rps: count / result.duration,
    latency: percentiles(times.subarray(0, count)),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    wrongStatus,
    badBodies,
    checkedBodies,
    statusCodes,
    samples,
    bytesPerResponse: count === 0 ? 0 : result.throughput.total / count,
    peakRssKb: memory.peak > 0 ? memory.peak : undefined,
    serverCpu: cpuBefore !== undefined && cpuAfter !== undefined ? 100 * (cpuAfter - cpuBefore) / elapsedMs : undefined
  }
}
