import t from 'tap'
import { parseOptions, UsageError } from '../../bench/options.js'

// The bench's command line (bench/options.ts): defaults, --ci's shorter run, and refusals.

t.test('defaults: both cache modes, off first, full durations, not enforced', async t => {
  const o = parseOptions([], {})
  t.same(o.modes, ['off', 'on'])
  t.match(o, { ci: false, duration: 15, warmup: 5, connections: 50, changes: 200, instances: 2, enforceBudget: false, pin: true, prime: true })
  t.equal(o.redisUrl, 'redis://127.0.0.1:6379')
  t.equal(o.scenarios, undefined, 'every scenario')
})

t.test('--ci: cache on, short, enforced; explicit values still win', async t => {
  t.match(parseOptions(['--ci'], {}), { modes: ['on'], duration: 5, warmup: 2, changes: 100, enforceBudget: true })
  t.match(parseOptions(['--ci', '--duration', '8', '--cache', 'both'], {}), { modes: ['off', 'on'], duration: 8 })
  t.match(parseOptions(['--budget', '--scenario', 'tags', '--scenario', 'coherence', '--no-prime'], {}),
    { enforceBudget: true, scenarios: ['tags', 'coherence'], prime: false })
})

t.test('environment: BENCH_REDIS_URL=none runs without Redis; BENCH_DATABASE_URL names the server', async t => {
  t.equal(parseOptions([], { BENCH_REDIS_URL: 'none' }).redisUrl, undefined)
  t.equal(parseOptions([], { BENCH_DATABASE_URL: 'postgres://x@h:1/db' }).serverUrl, 'postgres://x@h:1/db')
})

t.test('a command line it cannot run is a UsageError naming the option', async t => {
  t.throws(() => parseOptions(['--cache', 'sometimes'], {}), new UsageError('--cache must be on, off or both, got sometimes'))
  t.throws(() => parseOptions(['--connections', '0'], {}), /--connections must be a number >= 1/)
  t.throws(() => parseOptions(['--duration', 'Infinity'], {}), /--duration must be a number/)
  t.throws(() => parseOptions(['--instances', '1'], {}), /--instances must be a number >= 2/)
  t.throws(() => parseOptions(['--frobnicate'], {}), { name: 'UsageError', message: /Unknown option '--frobnicate'/ })
  t.throws(() => parseOptions(['--compare', 'a.json'], {}), /--compare needs two results files/)
  t.same(parseOptions(['--compare', 'a.json', 'b.json'], {}).compare, ['a.json', 'b.json'])
})
