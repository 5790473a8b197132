import type { Counts } from './dataset.js'
import type { LoadResult } from './load.js'

/** One scenario's measured run, as written to bench/results/<timestamp>.json. */
export interface ScenarioResult extends LoadResult {
  name: string
  description: string
  /** req/s divided by the baseline scenario's req/s */
  ratio?: number
}

export interface RunResults {
  version: 1
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
  }
  seed: { counts: Counts, seconds: number }
  /** the service's peak RSS over the whole run (VmHWM), kB */
  serverHwmKb?: number
  scenarios: ScenarioResult[]
  breaches: string[]
}

export function failures (r: LoadResult): number {
  return r.wrongStatus + r.badBodies
}
