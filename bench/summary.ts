// The end of a run: its figures written (JSON and an HTML chart under bench/results), printed as
// tables, and the verdict against the budget as the exit code.
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { checkBudget, type Budget } from './budget.js'
import type { BenchOptions } from './options.js'
import { cacheComparison, coherenceTable, htmlReport, resultsTable, targetsTable } from './report.js'
import type { CacheMode, CoherenceResult, RunResults, ScenarioResult } from './results.js'
import type { Session } from './session.js'
import { evaluateTargets } from './targets.js'

export interface Summary {
  opts: BenchOptions
  session: Session
  budget: Budget
  startedAt: string
  pinned: boolean
  withCoherence: boolean
  primeSeconds?: number
  seed: RunResults['seed']
  serverHwmKb: Partial<Record<CacheMode, number>>
  results: ScenarioResult[]
  coherence: CoherenceResult[]
  remeasured: string[]
  redisKeys?: number
  /** kept with --keep: printed so it can be reused */
  databaseUrl: string
}

/** Writes and prints the run's results; returns the exit code (1: over an enforced budget). */
export function summarize (s: Summary): number {
  const { opts, session } = s
  const breaches = checkBudget(s.results, s.budget, s.coherence)
  const targets = evaluateTargets(s.results)
  const report: RunResults = {
    version: 2,
    startedAt: s.startedAt,
    finishedAt: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}`,
    pinned: s.pinned,
    options: {
      scale: opts.scale,
      connections: opts.connections,
      duration: opts.duration,
      warmup: opts.warmup,
      ci: opts.ci,
      profile: opts.profile,
      checkEvery: opts.checkEvery,
      cache: opts.modes,
      instances: s.withCoherence ? opts.instances : undefined,
      changes: s.withCoherence ? opts.changes : undefined,
      redis: session.usesRedis && opts.redisUrl !== undefined ? new URL(opts.redisUrl).host : undefined,
      primeSeconds: s.primeSeconds
    },
    seed: s.seed,
    serverHwmKb: s.serverHwmKb,
    scenarios: s.results,
    coherence: s.coherence,
    targets,
    breaches,
    remeasured: s.remeasured
  }
  const jsonFile = join(session.resultsDir, `${session.stamp}.json`)
  const htmlFile = join(session.resultsDir, `${session.stamp}.html`)
  writeFileSync(jsonFile, JSON.stringify(report, null, 2) + '\n')
  writeFileSync(htmlFile, htmlReport(report, s.budget.defaults.p95Ms))

  console.log('')
  console.log(resultsTable(s.results))
  const comparison = cacheComparison(s.results)
  if (comparison !== '') console.log(`\n${comparison}`)
  if (s.coherence.length > 0) console.log(`\n${coherenceTable(s.coherence)}`)
  console.log(`\n${targetsTable(targets)}`)
  console.log('')
  for (const [mode, kb] of Object.entries(s.serverHwmKb)) console.log(`service (cache ${mode}) peak RSS over the run (VmHWM): ${(kb / 1024).toFixed(0)} MB`)
  if (s.redisKeys !== undefined) console.log(`Redis keys under ${session.dbName}:* at the end: ${s.redisKeys}${opts.keep ? ' (kept)' : ' (deleted below)'}`)
  console.log(`results: ${jsonFile}\nchart:   ${htmlFile}`)
  if (opts.keep) console.log(`kept database: ${s.databaseUrl}`)

  if (s.remeasured.length > 0) console.log(`measured twice (the second figures are in the table): ${s.remeasured.join('; ')}`)
  if (breaches.length === 0) {
    console.log('within budget')
    return 0
  }
  console.log(`${opts.enforceBudget ? 'OVER BUDGET' : 'over budget (not enforced without --ci or --budget)'}:`)
  for (const line of breaches) console.log(`  ${line}`)
  return opts.enforceBudget ? 1 : 0
}
