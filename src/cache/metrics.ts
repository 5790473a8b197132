/** Cache counters, per cache name, in one place: what a metrics endpoint will expose. */
export interface CacheCounters {
  hotHits: number
  redisHits: number
  misses: number
  coalesced: number
  invalidations: number
  redisErrors: number
}

export type CounterName = keyof CacheCounters

export function createCacheMetrics () {
  const byName = new Map<string, CacheCounters>()

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
    }
  }
}

export type CacheMetrics = ReturnType<typeof createCacheMetrics>
