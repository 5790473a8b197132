// The service's own Prometheus metrics, read from their owners' state at scrape time (nothing is
// counted twice, nothing costs a request): the cache's counters, the pg pool, the Redis and LISTEN
// connections, the peers' write barriers. Metric names are listed once here; ops/alerts.yml uses them.
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, type Registry } from 'prom-client'
import { TIMING_BUCKETS, type CacheCounters, type Timing } from '../cache/metrics.js'
import { READ_OUTCOMES } from '../db/read-pool.js'

/** A counter whose total is kept elsewhere: set to that total at each scrape. */
function mirroredCounter (registry: Registry, name: string, help: string, labelNames: string[],
  totals: () => Array<[Record<string, string>, number]>): void {
  // prom-client counters only go up; a total kept elsewhere is re-applied whole at each scrape.
  const counter: Counter = new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect () {
      counter.reset()
      for (const [labels, value] of totals()) counter.inc(labels, value)
    }
  })
}

function gauge (registry: Registry, name: string, help: string, labelNames: string[],
  values: () => Array<[Record<string, string>, number]>): void {
  const g: Gauge = new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect () {
      g.reset()
      for (const [labels, value] of values()) g.set(labels, value)
    }
  })
}

/** A histogram whose buckets are kept elsewhere (see cache/metrics.ts): rendered from them at each scrape. */
function mirroredHistogram (registry: Registry, name: string, help: string, timing: () => Timing): void {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset () {},
    get () {
      const { counts, sum, count } = timing()
      let cumulative = 0
      const values: Array<{ metricName: string, labels: Record<string, string | number>, value: number }> =
        TIMING_BUCKETS.map((le, i) => {
          cumulative += counts[i] ?? 0
          return { metricName: `${name}_bucket`, labels: { le }, value: cumulative }
        })
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: count })
      return {
        name,
        help,
        type: 'histogram',
        aggregator: 'sum',
        values: [...values, { metricName: `${name}_sum`, labels: {}, value: sum }, { metricName: `${name}_count`, labels: {}, value: count }]
      }
    }
  }
  // prom-client renders any object with get(); its Metric type is the class of its own metrics.
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0])
}

export function registerServiceMetrics (app: FastifyInstance, registry: Registry): void {
  const { pg, config } = app

  gauge(registry, 'gravity_pg_pool_connections', 'pg pool connections by state (total open, idle)', ['state'],
    () => [[{ state: 'total' }, pg.totalCount], [{ state: 'idle' }, pg.idleCount]])
  gauge(registry, 'gravity_pg_pool_max', 'pg pool size limit (PG_POOL_MAX)', [], () => [[{}, config.PG_POOL_MAX]])
  gauge(registry, 'gravity_pg_pool_waiting', 'queries waiting for a pg pool connection', [], () => [[{}, pg.waitingCount]])
  gauge(registry, 'gravity_pg_up', '1 while PostgreSQL answers; 0 while requests that need it are refused (see db/pool-health.ts)', [],
    () => [[{}, app.dbHealth.up ? 1 : 0]])

  const { pgRead } = app
  if (pgRead.replicated) {
    mirroredCounter(registry, 'gravity_replica_reads_total',
      'repository reads by where they went: replica, or the primary because it lagged (lag), was down (replica_down), the request writes (write_request) or changes are not followed (unsynced)',
      ['outcome'], () => { const { reads } = pgRead.stats(); return READ_OUTCOMES.map(outcome => [{ outcome }, reads[outcome]]) })
    mirroredHistogram(registry, 'gravity_replica_wait_seconds',
      'what a read that found the replica behind waited for it to replay the changes required (then read it, or the primary)',
      () => pgRead.stats().waits)
  }

  const cache = app.cache
  if (cache === null) return
  const byCache = (pick: (c: CacheCounters) => number) => () =>
    Object.entries(cache.metrics.snapshot()).map(([name, c]): [Record<string, string>, number] => [{ cache: name }, pick(c)])
  mirroredCounter(registry, 'gravity_cache_hits_total', 'cache reads answered by a tier (hot: in-process, redis)', ['cache', 'tier'],
    () => Object.entries(cache.metrics.snapshot()).flatMap(([name, c]): Array<[Record<string, string>, number]> =>
      [[{ cache: name, tier: 'hot' }, c.hotHits], [{ cache: name, tier: 'redis' }, c.redisHits]]))
  mirroredCounter(registry, 'gravity_cache_misses_total', 'cache reads that went to PostgreSQL', ['cache'], byCache(c => c.misses))
  mirroredCounter(registry, 'gravity_cache_coalesced_total', 'cache misses that waited for a load already running', ['cache'], byCache(c => c.coalesced))
  mirroredCounter(registry, 'gravity_cache_invalidations_total', 'cache keys invalidated', ['cache'], byCache(c => c.invalidations))
  mirroredCounter(registry, 'gravity_cache_redis_errors_total', 'Redis reads that failed or timed out (served from PostgreSQL)', ['cache'], byCache(c => c.redisErrors))

  gauge(registry, 'gravity_change_listener_up', '1 while the LISTEN session receives change notifications (0: cache bypassed)', [],
    () => [[{}, cache.listener.ready ? 1 : 0]])
  if (cache.redis !== undefined) {
    const redis = cache.redis
    gauge(registry, 'gravity_redis_up', '1 while Redis is in use as the shared cache tier', [], () => [[{}, redis.available ? 1 : 0]])
  }
  gauge(registry, 'gravity_peers', 'other live instances a write waits for', [], () => [[{}, cache.peers.others().length]])
  mirroredCounter(registry, 'gravity_peer_barrier_timeouts_total', 'write barriers that stopped waiting for an instance that did not confirm in time', [],
    () => [[{}, cache.peers.timeouts]])
  mirroredHistogram(registry, 'gravity_peer_barrier_wait_seconds',
    'what a write through this instance waited, after its commit, for every instance to apply it',
    () => cache.metrics.timing('barrier_wait'))
  mirroredHistogram(registry, 'gravity_cache_invalidation_lag_seconds',
    'from a change\'s statement (database clock) to its invalidation applied by this instance',
    () => cache.metrics.timing('invalidation_lag'))
}
