import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { checkBudget, loadBudget } from './budget.js'
import { createDatabase, DEFAULT_SERVER_URL, dropDatabase } from './db.js'
import { readFixtures } from './fixtures.js'
import { runLoad } from './load.js'
import { compareResults, htmlReport, readResults, resultsTable } from './report.js'
import type { RunResults, ScenarioResult } from './results.js'
import { buildScenarios, tokenSource, type Scenario } from './scenarios.js'
import { seedDatabase } from './seeder.js'
import { canPin, pin, startService, type Service } from './server.js'

const USAGE = `usage: node dist-bench/run.js [options]
  --ci                  short run (2 s warm-up, 5 s per scenario) that fails on a budget breach
  --scale N             data set scale (default 1: 1,000 users, 10,000 articles)
  --connections N       concurrent connections (default 50)
  --duration S          measured seconds per scenario (default 15; 5 with --ci)
  --warmup S            warm-up seconds per scenario (default 5; 2 with --ci)
  --scenario NAME       run only this scenario (repeatable), plus baseline for the ratio
  --profile             run the service under --cpu-prof (profiles in bench/results/profiles)
  --keep                keep the bench database (its URL is printed)
  --budget              fail on a budget breach without --ci too
  --budget-file FILE    budget to check (default bench/budget.json)
  --check-every N       check the body of one GET response in N (default 5; writes always)
  --pool-max N          PG_POOL_MAX of the service (default 10, its own default)
  --no-pin              do not pin service and load generator to separate CPUs
  --compare A.json B.json   print the change per scenario from A to B
env: BENCH_DATABASE_URL (default ${DEFAULT_SERVER_URL}): the server where bench_<timestamp> is created
     BENCH_REDIS_URL: passed to the service as REDIS_URL (unset: the service runs without Redis)`

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    ci: { type: 'boolean', default: false },
    scale: { type: 'string', default: '1' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    scenario: { type: 'string', multiple: true },
    profile: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    budget: { type: 'boolean', default: false },
    'budget-file': { type: 'string', default: 'bench/budget.json' },
    'check-every': { type: 'string', default: '5' },
    'pool-max': { type: 'string', default: '10' },
    'no-pin': { type: 'boolean', default: false },
    compare: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
})

if (values.help) {
  console.log(USAGE)
  process.exit(0)
}

if (values.compare) {
  if (positionals.length !== 2) {
    console.error('--compare needs two results files: --compare A.json B.json')
    process.exit(2)
  }
  console.log(compareResults(readResults(positionals[0] as string), readResults(positionals[1] as string)))
  process.exit(0)
}

function number (name: string, raw: string | undefined, fallback: number, min: number): number {
  const n = raw === undefined ? fallback : Number(raw)
  if (!Number.isFinite(n) || n < min) {
    console.error(`--${name} must be a number >= ${min}, got ${raw}\n${USAGE}`)
    process.exit(2)
  }
  return n
}

const ci = values.ci
const opts = {
  scale: number('scale', values.scale, 1, 0.01),
  connections: Math.round(number('connections', values.connections, 50, 1)),
  duration: number('duration', values.duration, ci ? 5 : 15, 1),
  warmup: number('warmup', values.warmup, ci ? 2 : 5, 0),
  checkEvery: Math.round(number('check-every', values['check-every'], 5, 1)),
  poolMax: Math.round(number('pool-max', values['pool-max'], 10, 1))
}
const enforceBudget = ci || values.budget
const budget = loadBudget(values['budget-file'])

const resultsDir = resolve('bench/results')
const profileDir = join(resultsDir, 'profiles')
mkdirSync(resultsDir, { recursive: true })
if (values.profile) mkdirSync(profileDir, { recursive: true })

const now = new Date()
const stamp = now.toISOString().replace(/\.\d+Z$/, '').replace(/[-:]/g, '').replace('T', '-')
const dbName = `bench_${stamp.replace('-', '_')}_${process.pid}`
const serverUrl = process.env.BENCH_DATABASE_URL || DEFAULT_SERVER_URL
const logFile = join(resultsDir, `${stamp}.server.log`)

let service: Service | undefined
let dbCreated = false

async function cleanup (): Promise<void> {
  const s = service
  service = undefined
  if (s !== undefined) await s.stop().catch(() => {})
  if (dbCreated && !values.keep) {
    dbCreated = false
    await dropDatabase(serverUrl, dbName).catch(err => console.error(`could not drop ${dbName}: ${(err as Error).message}`))
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the service${values.keep ? '' : ' and dropping the bench database'}`)
    cleanup().finally(() => process.exit(130)).catch(() => {})
  })
}

const isTty = process.stdout.isTTY === true
function progress (line: string, done: boolean): void {
  if (isTty) process.stdout.write(`\r\x1b[2K${line}${done ? '\n' : ''}`)
  else if (done) console.log(line)
}

/** One real login: proves the seeded password hash has the service's format. */
async function smokeTest (url: string): Promise<void> {
  const res = await fetch(`${url}/api/users/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: { email: 'user0001@bench.local', password: 'password' } })
  })
  if (res.status !== 200) throw new Error(`seeded user could not log in: ${res.status} ${await res.text()}`)
}

async function measure (scenario: Scenario, svc: Service): Promise<ScenarioResult> {
  const label = scenario.name.padEnd(20)
  if (opts.warmup > 0) {
    await runLoad(svc, scenario, {
      connections: opts.connections,
      duration: opts.warmup,
      checkEvery: opts.checkEvery,
      onTick: p => progress(`  ${label} warm-up ${p.elapsed.toFixed(0)}/${opts.warmup} s`, false)
    })
  }
  const result = await runLoad(svc, scenario, {
    connections: opts.connections,
    duration: opts.duration,
    checkEvery: opts.checkEvery,
    onTick: p => progress(`  ${label} ${p.elapsed.toFixed(0).padStart(3)}/${opts.duration} s  ${Math.round(p.requests / p.elapsed).toLocaleString('en-US').padStart(7)} req/s  ${p.failures} failures`, false)
  })
  const bad = result.errors + result.non2xx + result.wrongStatus + result.badBodies
  progress(`  ${label} ${Math.round(result.rps).toLocaleString('en-US').padStart(7)} req/s  p95 ${result.latency.p95.toFixed(1)} ms  ${bad === 0 ? 'ok' : `${bad} bad`}`, true)
  for (const sample of result.samples) console.log(`      ${sample}`)
  return { name: scenario.name, description: scenario.description, ...result }
}

async function main (): Promise<number> {
  const startedAt = new Date().toISOString()
  console.log(`bench database ${dbName} on ${new URL(serverUrl).host}`)
  const dbUrl = await createDatabase(serverUrl, dbName)
  dbCreated = true

  const seedStarted = performance.now()
  const seeded = await seedDatabase(dbUrl, { scale: opts.scale, force: false, log: line => console.log(`  seed: ${line}`) })
  const seedSeconds = (performance.now() - seedStarted) / 1000
  console.log(`  seed: done in ${seedSeconds.toFixed(1)} s`)
  const fixtures = await readFixtures(dbUrl)

  const jwtSecret = randomBytes(32).toString('base64url')
  const pinned = !values['no-pin'] && canPin()
  service = await startService({
    databaseUrl: dbUrl,
    jwtSecret,
    logFile,
    cpu: pinned ? 0 : undefined,
    profileDir: values.profile ? profileDir : undefined,
    poolMax: opts.poolMax,
    redisUrl: process.env.BENCH_REDIS_URL || undefined
  })
  if (pinned && !pin(process.pid, 1)) console.log('  could not pin the load generator to CPU 1')
  console.log(`service pid ${service.pid} at ${service.url}${pinned ? ' (CPU 0; load generator on CPU 1)' : ''}, log ${logFile}`)
  await smokeTest(service.url)

  const all = buildScenarios(fixtures, tokenSource(jwtSecret))
  let chosen = all
  if (values.scenario !== undefined) {
    const unknown = values.scenario.filter(name => !all.some(s => s.name === name))
    if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${all.map(s => s.name).join(', ')}`)
    chosen = all.filter(s => s.name === 'baseline' || values.scenario?.includes(s.name))
  }

  console.log(`${chosen.length} scenarios, ${opts.connections} connections, ${opts.warmup} s warm-up + ${opts.duration} s each`)
  const results: ScenarioResult[] = []
  for (const scenario of chosen) results.push(await measure(scenario, service))
  const baseline = results.find(r => r.name === 'baseline')
  for (const r of results) if (baseline !== undefined && baseline.rps > 0) r.ratio = r.rps / baseline.rps

  const serverHwmKb = service.memory()?.hwmKb
  const svc = service
  service = undefined
  const code = await svc.stop()
  if (code !== 0) console.log(`the service exited with code ${code} (see ${logFile})`)
  if (values.profile) {
    const profiles = readdirSync(profileDir).filter(f => f.endsWith('.cpuprofile') && f.includes(`.${svc.pid}.`))
    console.log(profiles.length > 0
      ? `CPU profile: ${profiles.map(f => join(profileDir, f)).join(', ')} (open in Chrome DevTools > Performance, or speedscope)`
      : `no CPU profile for pid ${svc.pid} in ${profileDir}`)
  }

  const breaches = checkBudget(results, budget)
  const cpuModel = cpus()[0]?.model ?? 'unknown CPU'
  const report: RunResults = {
    version: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} x ${cpuModel}`,
    pinned,
    options: { scale: opts.scale, connections: opts.connections, duration: opts.duration, warmup: opts.warmup, ci, profile: values.profile, checkEvery: opts.checkEvery },
    seed: { counts: seeded.counts, seconds: seedSeconds },
    serverHwmKb,
    scenarios: results,
    breaches
  }
  const jsonFile = join(resultsDir, `${stamp}.json`)
  const htmlFile = join(resultsDir, `${stamp}.html`)
  writeFileSync(jsonFile, JSON.stringify(report, null, 2) + '\n')
  writeFileSync(htmlFile, htmlReport(report, budget.defaults.p95Ms))

  console.log('')
  console.log(resultsTable(results))
  console.log('')
  if (serverHwmKb !== undefined) console.log(`service peak RSS over the run (VmHWM): ${(serverHwmKb / 1024).toFixed(0)} MB`)
  console.log(`results: ${jsonFile}\nchart:   ${htmlFile}`)
  if (values.keep) console.log(`kept database: ${dbUrl}`)

  if (breaches.length === 0) {
    console.log('within budget')
    return 0
  }
  console.log(`${enforceBudget ? 'OVER BUDGET' : 'over budget (not enforced without --ci or --budget)'}:`)
  for (const line of breaches) console.log(`  ${line}`)
  return enforceBudget ? 1 : 0
}

let exitCode: number
try {
  exitCode = await main()
} catch (err) {
  console.error(`bench failed: ${(err as Error).message}`)
  exitCode = 1
}
await cleanup()
process.exit(exitCode)
