import type { Counts } from './dataset.js'
import type { Latency, LoadResult } from './load.js'

/** The service's CACHE setting for a row: `off` reads PostgreSQL every time. */
export type CacheMode = 'on' | 'off'

/** Where the service says a request's data came from (the `data` field of its request log). */
export interface DataSources {
  /** requests logged in the measured window */
  requests: number
  hot: number
  redis: number
  postgres: number
  /** service-side latency (the log's responseTime, ms): what the service spent, without queueing in the kernel */
  serverP50?: number
  serverP99?: number
}

/** One scenario's measured run, as written to bench/results/<timestamp>.json. */
export interface ScenarioResult extends LoadResult {
  name: string
  description: string
  /** the service's CACHE setting; absent in version-1 files (made before the cache existed) */
  cache?: CacheMode
  /** req/s divided by the baseline scenario's req/s, baseline of the same cache mode */
  ratio?: number
  /** on the cache-on row: req/s divided by the same scenario's cache-off req/s */
  speedup?: number
  sources?: DataSources
}

/** How long a change takes to show everywhere, over a series of changes. */
export interface CoherenceFigures extends Latency {
  /** changes measured */
  changes: number
  /** changes not visible on every instance within the timeout */
  timeouts: number
  /** reads that did not answer 200 with a parseable body */
  errors: number
  /** an instance served the new value, then the old one again */
  flipBacks: number
  /** failures in all: timeouts + errors + flip-backs (+ stale own reads, for API changes) */
  failures: number
  /** the slowest change measured, with each instance's time: to tell a slow instance from a slow change */
  slowest?: string
}

export interface CoherenceResult {
  cache: CacheMode
  instances: number
  /** Redis shared by the instances (the key prefix), or undefined: each instance in-process only */
  redisPrefix?: string
  timeoutMs: number
  gapMs: number
  /** plain SQL UPDATE of the title by another client: COMMIT returned -> every instance serves it */
  sql: {
    article: CoherenceFigures
    list: CoherenceFigures
    /**
     * COMMIT returned -> the bench's own LISTEN connection got the notification (0 when it came
     * first): PostgreSQL's part, the floor under the instances' figures. `missing`: never came.
     */
    notify?: Latency & { missing: number }
  }
  /** PUT through instance A: A's 2xx -> every other instance serves it */
  api: {
    article: CoherenceFigures
    list: CoherenceFigures
    /** first read on the other instances right after A's 2xx that was already fresh, of `firstReads` */
    firstReadFresh: number
    firstReads: number
    /** A's own answer (PUT response, or its first read after it) was stale: read-your-writes broken */
    ownStale: number
  }
  /** the first few problems, to say what went wrong */
  samples: string[]
}

/** One of the performance targets, evaluated on this run (informational, not the budget). */
export interface TargetResult {
  target: string
  figure: string
  met: boolean | undefined
}

export interface RunResults {
  /** 2: rows carry `cache`, plus `coherence` and `targets`; 1: one run against one service */
  version: 1 | 2
  startedAt: string
  finishedAt: string
  node: string
  cpus: string
  /** service on CPU 0, load generator on CPU 1 */
  pinned: boolean
  options: {
    scale: number
    connections: number
    duration: number
    warmup: number
    ci: boolean
    profile: boolean
    checkEvery: number
    cache?: CacheMode[]
    instances?: number
    changes?: number
    /** Redis the cache-on service used (host only), or undefined: in-process cache only */
    redis?: string
    /** how long priming the cache-on service took; undefined: not primed (--no-prime, or no cache-on run) */
    primeSeconds?: number
  }
  seed: { counts: Counts, seconds: number }
  /** the service's peak RSS over the whole run (VmHWM), kB, per cache mode */
  serverHwmKb?: number | Partial<Record<CacheMode, number>>
  scenarios: ScenarioResult[]
  coherence?: CoherenceResult[]
  targets?: TargetResult[]
  breaches: string[]
  /** scenarios measured a second time after a timing breach, with their first figures */
  remeasured?: string[]
}

export function failures (r: LoadResult): number {
  return r.wrongStatus + r.badBodies
}

/** `article [on]`: a row's name with its cache mode, when it has one. */
export function label (r: { name: string, cache?: CacheMode }): string {
  return r.cache === undefined ? r.name : `${r.name} [${r.cache}]`
}
