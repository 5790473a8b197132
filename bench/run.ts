// `npm run bench` / `bench:ci`: seeds a database of its own, starts the service (each cache mode),
// primes it, measures every scenario and coherence across instances, reports, checks the budget.
// Each step is a module: options, session (what it creates and cleans up), measure, coherence-step,
// summary.
import { randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadBudget } from './budget.js'
import { coherenceStep } from './coherence-step.js'
import { createDatabase } from './db.js'
import { PASSWORD } from './dataset.js'
import { readFixtures, type UserRef } from './fixtures.js'
import { measure, measureAll } from './measure.js'
import { parseOptions, UsageError, USAGE, type BenchOptions } from './options.js'
import { prime } from './prime.js'
import { checkRedis, countPrefix } from './redis.js'
import { compareResults, readResults } from './report.js'
import type { CacheMode, CoherenceResult, ScenarioResult } from './results.js'
import { buildScenarios, tokenSource, type Scenario } from './scenarios.js'
import { seedDatabase } from './seeder.js'
import { canPin, pin, type Service } from './server.js'
import { createSession, type Session } from './session.js'
import { summarize } from './summary.js'

/** One real login of a seeded user (whatever the scale names it): proves the seeded password hash has the service's format. */
async function smokeTest (url: string, user: UserRef): Promise<void> {
  const res = await fetch(`${url}/api/users/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: { email: user.email, password: PASSWORD } })
  })
  if (res.status !== 200) throw new Error(`seeded user ${user.email} could not log in: ${res.status} ${await res.text()}`)
}

/** The scenarios --scenario asks for (baseline always, for the ratios), and whether coherence runs. */
function choose (all: Scenario[], wanted: string[] | undefined): { chosen: string[], withCoherence: boolean } {
  const known = [...all.map(s => s.name), 'coherence']
  if (wanted === undefined) return { chosen: all.map(s => s.name), withCoherence: true }
  const unknown = wanted.filter(name => !known.includes(name))
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${known.join(', ')}`)
  return { chosen: all.map(s => s.name).filter(name => name === 'baseline' || wanted.includes(name)), withCoherence: wanted.includes('coherence') }
}

/** `baseline`'s requests against a bare Fastify process serving the same bytes (the `reference` row). */
async function measureReference (
  session: Session, services: Map<CacheMode, Service>, scenarios: Map<CacheMode, Scenario[]>, pinned: boolean, opts: BenchOptions
): Promise<ScenarioResult | undefined> {
  const [mode, service] = [...services][0] ?? []
  const baseline = mode === undefined ? undefined : scenarios.get(mode)?.find(s => s.name === 'baseline')
  if (service === undefined || baseline === undefined) return undefined
  const body = await (await fetch(`${service.url}/health/live`)).text()
  const reference = await session.launchReference(body, pinned)
  try {
    const result = await measure({ ...baseline, name: 'reference', description: 'a bare Fastify 5 process serving /health/live\'s bytes (no plugins, hooks or logger)' }, reference, mode as CacheMode, opts)
    return { ...result, cache: undefined, sources: undefined }
  } finally {
    await session.stop(reference)
  }
}

async function run (opts: BenchOptions, session: Session): Promise<number> {
  const startedAt = new Date().toISOString()
  const budget = loadBudget(opts.budgetFile)
  console.log(`bench database ${session.dbName} on ${new URL(opts.serverUrl).host}`)
  if (opts.modes.includes('on')) {
    if (opts.redisUrl === undefined) console.log('cache on without Redis (BENCH_REDIS_URL=none): in-process cache only')
    else {
      await checkRedis(opts.redisUrl)
      console.log(`cache-on Redis ${new URL(opts.redisUrl).host}, prefix ${session.dbName}`)
    }
  }
  const databaseUrl = await createDatabase(opts.serverUrl, session.dbName)
  session.created()

  const seedStarted = performance.now()
  const seeded = await seedDatabase(databaseUrl, { scale: opts.scale, force: false, log: line => console.log(`  seed: ${line}`) })
  const seedSeconds = (performance.now() - seedStarted) / 1000
  console.log(`  seed: done in ${seedSeconds.toFixed(1)} s`)
  const fixtures = await readFixtures(databaseUrl)

  const jwtSecret = randomBytes(32).toString('base64url')
  const pinned = opts.pin && canPin()
  const services = new Map<CacheMode, Service>()
  for (const mode of opts.modes) {
    const service = await session.launch(mode, 1, databaseUrl, jwtSecret, pinned)
    services.set(mode, service)
    console.log(`service (cache ${mode}) pid ${service.pid} at ${service.url}${pinned ? ' (CPU 0)' : ''}, log ${service.logFile}`)
    await smokeTest(service.url, fixtures.writers[0] as UserRef)
  }
  if (pinned && !pin(process.pid, 1)) console.log('  could not pin the load generator to CPU 1')
  else if (pinned) console.log('load generator on CPU 1')

  const tokenFor = tokenSource(jwtSecret)
  const primed = services.get('on')
  let primeSeconds: number | undefined
  if (primed !== undefined && opts.prime) {
    // PostgreSQL is shared by both modes, so its buffers are as warm for the cache-off service.
    const p = await prime(primed, fixtures, tokenFor, opts.connections)
    primeSeconds = p.seconds
    console.log(`  primed the cache-on service: ${p.requests.toLocaleString('en-US')} reads in ${p.seconds.toFixed(1)} s${p.failed > 0 ? `, ${p.failed} failed` : ''}`)
    if (p.failed > 0) throw new Error(`${p.failed} priming reads failed (see ${primed.logFile})`)
  }

  const scenarios = new Map(opts.modes.map(mode => [mode, buildScenarios(fixtures, tokenFor)]))
  const { chosen, withCoherence } = choose(scenarios.get(opts.modes[0] as CacheMode) as Scenario[], opts.scenarios)
  console.log(`${chosen.length} scenarios x cache ${opts.modes.join(', ')}, ${opts.connections} connections, ${opts.warmup} s warm-up + ${opts.duration} s each` +
    (withCoherence ? `; coherence: ${opts.instances} instances, ${opts.changes} SQL + ${opts.changes} API changes per mode` : ''))
  // The reference row first, against the same baseline scenario as the service's own row.
  const reference = await measureReference(session, services, scenarios, pinned, opts)
  const { results, remeasured } = await measureAll({
    chosen, modes: opts.modes, scenarios, services, opts, budget: opts.enforceBudget ? budget : undefined
  })
  if (reference !== undefined) results.unshift(reference)

  const coherence: CoherenceResult[] = []
  if (withCoherence) {
    for (const mode of opts.modes) {
      coherence.push(await coherenceStep({ mode, main: services.get(mode) as Service, session, databaseUrl, jwtSecret, pinned, tokenFor, opts }))
    }
  }

  const serverHwmKb: Partial<Record<CacheMode, number>> = {}
  for (const [mode, service] of services) {
    const hwm = service.memory()?.hwmKb
    if (hwm !== undefined) serverHwmKb[mode] = hwm
    const code = await session.stop(service)
    if (code !== 0) console.log(`the service (cache ${mode}) exited with code ${code} (see ${service.logFile})`)
  }
  if (opts.profile) {
    const pids = [...services.values()].map(s => s.pid)
    const profiles = readdirSync(session.profileDir).filter(f => f.endsWith('.cpuprofile') && pids.some(pid => f.includes(`.${pid}.`)))
    console.log(profiles.length > 0
      ? `CPU profile: ${profiles.map(f => join(session.profileDir, f)).join(', ')} (open in Chrome DevTools > Performance, or speedscope)`
      : `no CPU profile for pids ${pids.join(', ')} in ${session.profileDir}`)
  }
  const redisKeys = session.usesRedis && opts.redisUrl !== undefined
    ? await countPrefix(opts.redisUrl, session.dbName).catch(() => undefined)
    : undefined

  return summarize({
    opts,
    session,
    budget,
    startedAt,
    pinned,
    withCoherence,
    primeSeconds,
    seed: { counts: seeded.counts, seconds: seedSeconds },
    serverHwmKb,
    results,
    coherence,
    remeasured,
    redisKeys,
    databaseUrl
  })
}

let opts: BenchOptions
try {
  opts = parseOptions(process.argv.slice(2))
} catch (err) {
  if (!(err instanceof UsageError)) throw err
  console.error(`${err.message}\n${USAGE}`)
  process.exit(2)
}
if (opts.help) {
  console.log(USAGE)
  process.exit(0)
}
if (opts.compare !== undefined) {
  console.log(compareResults(readResults(opts.compare[0]), readResults(opts.compare[1])))
  process.exit(0)
}

const session = createSession(opts)
let exitCode: number
try {
  exitCode = await run(opts, session)
} catch (err) {
  console.error(`bench failed: ${(err as Error).message}`)
  exitCode = 1
}
await session.close()
process.exit(exitCode)
