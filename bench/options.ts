// The bench's command line, parsed and checked once into BenchOptions (no side effects).
import { parseArgs } from 'node:util'
import { DEFAULT_SERVER_URL } from './db.js'
import { DEFAULT_REDIS_URL } from './redis.js'
import type { CacheMode } from './results.js'

export const USAGE = `usage: node dist-bench/run.js [options]
  --ci                  short run (2 s warm-up, 5 s per scenario, cache on) that fails on a budget breach
  --cache on|off|both   the service's CACHE setting; both: every scenario against a cache-off and a
                        cache-on service, side by side (default both; on with --ci)
  --instances N         service instances for the coherence scenario (default 2)
  --changes N           coherence: changes of each kind, SQL and API (default 200; 100 with --ci)
  --scale N             data set scale (default 1: 1,000 users, 10,000 articles)
  --connections N       concurrent connections (default 50)
  --duration S          measured seconds per scenario (default 15; 5 with --ci)
  --warmup S            warm-up seconds per scenario (default 5; 2 with --ci)
  --scenario NAME       run only this scenario (repeatable), plus baseline for the ratio;
                        \`coherence\` is one (without --scenario, every scenario runs)
  --profile             run the service under --cpu-prof (profiles in bench/results/profiles)
  --keep                keep the bench database and Redis keys (both named bench_<timestamp>_<pid>)
  --budget              fail on a budget breach without --ci too
  --budget-file FILE    budget to check (default bench/budget.json)
  --check-every N       check the body of one GET response in N (default 5; writes always)
  --pool-max N          PG_POOL_MAX of the service (default 10, its own default)
  --no-pin              do not pin service and load generator to separate CPUs
  --no-prime            do not prime the cache-on service (every article, comment list and
                        profile read once before the scenarios): measure a cold cache
  --compare A.json B.json   print the change per scenario (and cache mode) from A to B
env: BENCH_DATABASE_URL (default ${DEFAULT_SERVER_URL}): the server where bench_<timestamp> is created
     BENCH_REDIS_URL (default ${DEFAULT_REDIS_URL}): the cache-on service's REDIS_URL, with
       REDIS_PREFIX=bench_<timestamp>_<pid> (its keys are deleted at the end); \`none\`: no Redis,
       in-process cache only`

/** A command line the bench cannot run: the message says why (print it with USAGE). */
export class UsageError extends Error {
  override name = 'UsageError'
}

export interface BenchOptions {
  /** --help */
  help: boolean
  /** --compare A B: print the change between two results files, nothing else */
  compare?: [string, string]
  ci: boolean
  /** cache modes, off first: each scenario is measured without, then with the cache, back to back */
  modes: CacheMode[]
  scale: number
  connections: number
  duration: number
  warmup: number
  checkEvery: number
  poolMax: number
  instances: number
  changes: number
  /** --scenario names; undefined: every scenario, coherence included */
  scenarios?: string[]
  profile: boolean
  keep: boolean
  /** fail (exit 1) on a budget breach: --ci or --budget */
  enforceBudget: boolean
  budgetFile: string
  pin: boolean
  prime: boolean
  /** where the bench database is created */
  serverUrl: string
  /** the cache-on service's Redis; undefined: in-process cache only */
  redisUrl?: string
}

export function parseOptions (args: string[], env: Record<string, string | undefined> = process.env): BenchOptions {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(args)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { values, positionals } = parsed
  const ci = values.ci
  const cache = values.cache ?? (ci ? 'on' : 'both')
  if (!['on', 'off', 'both'].includes(cache)) throw new UsageError(`--cache must be on, off or both, got ${cache}`)
  let compare: [string, string] | undefined
  if (values.compare) {
    if (positionals.length !== 2) throw new UsageError('--compare needs two results files: --compare A.json B.json')
    compare = [positionals[0] as string, positionals[1] as string]
  }
  const rawRedisUrl = env.BENCH_REDIS_URL
  return {
    help: values.help,
    compare,
    ci,
    modes: cache === 'both' ? ['off', 'on'] : [cache as CacheMode],
    scale: number('scale', values.scale, 1, 0.01),
    connections: Math.round(number('connections', values.connections, 50, 1)),
    duration: number('duration', values.duration, ci ? 5 : 15, 1),
    warmup: number('warmup', values.warmup, ci ? 2 : 5, 0),
    checkEvery: Math.round(number('check-every', values['check-every'], 5, 1)),
    poolMax: Math.round(number('pool-max', values['pool-max'], 10, 1)),
    instances: Math.round(number('instances', values.instances, 2, 2)),
    changes: Math.round(number('changes', values.changes, ci ? 100 : 200, 1)),
    scenarios: values.scenario,
    profile: values.profile,
    keep: values.keep,
    enforceBudget: ci || values.budget,
    budgetFile: values['budget-file'],
    pin: !values['no-pin'],
    prime: !values['no-prime'],
    serverUrl: env.BENCH_DATABASE_URL || DEFAULT_SERVER_URL,
    redisUrl: rawRedisUrl === undefined ? DEFAULT_REDIS_URL : rawRedisUrl === '' || rawRedisUrl === 'none' ? undefined : rawRedisUrl
  }
}

function parse (args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      ci: { type: 'boolean', default: false },
      scale: { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      scenario: { type: 'string', multiple: true },
      profile: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      budget: { type: 'boolean', default: false },
      'budget-file': { type: 'string', default: 'bench/budget.json' },
      'check-every': { type: 'string' },
      'pool-max': { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      'no-prime': { type: 'boolean', default: false },
      cache: { type: 'string' },
      instances: { type: 'string' },
      changes: { type: 'string' },
      compare: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
}

function number (name: string, raw: string | undefined, fallback: number, min: number): number {
  const n = raw === undefined ? fallback : Number(raw)
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number >= ${min}, got ${raw}`)
  return n
}
