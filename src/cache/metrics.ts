/** Cache counters per cache name, and the cache's timings, in one place: what /metrics exposes. */
export interface CacheCounters {
  hotHits: number
  redisHits: number
  misses: number
  coalesced: number
  invalidations: number
  redisErrors: number
}

export type CounterName = keyof CacheCounters

/** Upper bounds (seconds) of the timing buckets: from a sub-millisecond local apply to a stalled peer. */
export const TIMING_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const

/**
 * What is timed: `invalidation_lag`, a change's statement start (database clock) to its
 * invalidation applied here; `barrier_wait`, what a write through this instance waited for every
 * instance to apply it.
 */
export type TimingName = 'invalidation_lag' | 'barrier_wait'

export interface Timing {
  /** observations per bucket of TIMING_BUCKETS (not cumulative), then those above the last */
  counts: number[]
  sum: number
  count: number
}

export function createCacheMetrics () {
  const byName = new Map<string, CacheCounters>()
  const timings: Record<TimingName, Timing> = {
    invalidation_lag: newTiming(),
    barrier_wait: newTiming()
  }

  function counters (name: string): CacheCounters {
    let c = byName.get(name)
    if (c === undefined) {
      c = { hotHits: 0, redisHits: 0, misses: 0, coalesced: 0, invalidations: 0, redisErrors: 0 }
      byName.set(name, c)
    }
    return c
  }

  return {
    count (name: string, counter: CounterName, by = 1): void {
      counters(name)[counter] += by
    },
    snapshot (): Record<string, CacheCounters> {
      return Object.fromEntries([...byName].map(([name, c]) => [name, { ...c }]))
    },
    /** Records one duration; negative ones (clocks apart) count as 0. */
    time (name: TimingName, seconds: number): void {
      observe(timings[name], seconds)
    },
    timing (name: TimingName): Timing {
      const { counts, sum, count } = timings[name]
      return { counts: [...counts], sum, count }
    }
  }
}

export function newTiming (): Timing {
  return { counts: new Array<number>(TIMING_BUCKETS.length + 1).fill(0), sum: 0, count: 0 }
}

/** Records one duration; negative ones (clocks apart) count as 0. */
export function observe (timing: Timing, seconds: number): void {
  const value = Math.max(0, seconds)
  let bucket = TIMING_BUCKETS.findIndex(le => value <= le)
  if (bucket === -1) bucket = TIMING_BUCKETS.length
  timing.counts[bucket] = (timing.counts[bucket] ?? 0) + 1
  timing.sum += value
  timing.count++
}

export type CacheMetrics = ReturnType<typeof createCacheMetrics>
