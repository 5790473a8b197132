import { readFileSync } from 'node:fs'
import { failures, label, type CacheMode, type CoherenceFigures, type CoherenceResult, type ScenarioResult } from './results.js'

export interface Limits {
  /** p95 latency must stay below this (ms) */
  p95Ms?: number
  /** p99 latency must stay below this (ms); for `coherence`, the time until every instance is fresh */
  p99Ms?: number
  maxErrors?: number
  /** null: not checked (a scenario whose expected answer is a 304; its statuses are checked one by one) */
  maxNon2xx?: number | null
  /** wrong statuses plus bodies without the documented shape; for `coherence`, timeouts, errors and stale reads */
  maxFailures?: number
  /** req/s as a share of baseline's (same cache mode) must stay at or above this */
  minRatio?: number
}

export interface BudgetSection {
  defaults: Limits
  scenarios: Record<string, Limits>
}

/**
 * `defaults` and `scenarios` are the budget of the service as deployed (cache on), and of rows
 * without a cache mode. `cacheOff`, when present, replaces them for CACHE=off rows.
 */
export interface Budget extends BudgetSection {
  cacheOff?: BudgetSection
}

function section (raw: Partial<BudgetSection> | undefined): BudgetSection {
  return { defaults: raw?.defaults ?? {}, scenarios: raw?.scenarios ?? {} }
}

export function loadBudget (file: string): Budget {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<Budget>
  const budget: Budget = section(raw)
  if (raw.cacheOff !== undefined) budget.cacheOff = section(raw.cacheOff)
  return budget
}

export function limitsFor (budget: Budget, name: string, cache: CacheMode | undefined): Limits {
  const s = cache === 'off' && budget.cacheOff !== undefined ? budget.cacheOff : budget
  return { ...s.defaults, ...s.scenarios[name] }
}

const fmt = (n: number) => Number.isInteger(n) ? String(n) : n.toFixed(n < 1 ? 3 : 1)

/** One line per breached limit, naming the scenario and its figure; empty when all is within budget. */
export function checkBudget (results: ScenarioResult[], budget: Budget, coherence: CoherenceResult[] = []): string[] {
  const breaches: string[] = []
  for (const r of results) {
    const name = label(r)
    const limits = limitsFor(budget, r.name, r.cache)
    const over = (what: string, figure: number, limit: number | null | undefined, unit = '') => {
      if (limit !== undefined && limit !== null && figure > limit) breaches.push(`${name}: ${what} ${fmt(figure)}${unit} > ${fmt(limit)}${unit}`)
    }
    if (limits.p95Ms !== undefined && r.latency.p95 >= limits.p95Ms) {
      breaches.push(`${name}: p95 ${fmt(r.latency.p95)} ms >= ${fmt(limits.p95Ms)} ms`)
    }
    if (limits.p99Ms !== undefined && r.latency.p99 >= limits.p99Ms) {
      breaches.push(`${name}: p99 ${fmt(r.latency.p99)} ms >= ${fmt(limits.p99Ms)} ms`)
    }
    over('errors', r.errors, limits.maxErrors)
    over('non-2xx', r.non2xx, limits.maxNon2xx)
    over('failed checks (wrong status or body)', failures(r), limits.maxFailures)
    if (limits.minRatio !== undefined && r.ratio !== undefined && r.ratio < limits.minRatio) {
      breaches.push(`${name}: req/s ratio to baseline ${fmt(r.ratio)} < ${fmt(limits.minRatio)} (${fmt(r.rps)} req/s)`)
    }
  }
  for (const c of coherence) {
    // Only the limits coherence has: the load defaults (p95, non-2xx…) do not apply to it.
    const s = c.cache === 'off' && budget.cacheOff !== undefined ? budget.cacheOff : budget
    const limits = s.scenarios.coherence ?? {}
    const series: Array<[string, CoherenceFigures]> = [
      ['sql -> article', c.sql.article], ['sql -> list', c.sql.list],
      ['api -> article', c.api.article], ['api -> list', c.api.list]
    ]
    for (const [what, f] of series) {
      const name = `coherence [${c.cache}] ${what}`
      if (limits.p99Ms !== undefined && f.p99 >= limits.p99Ms) breaches.push(`${name}: p99 ${fmt(f.p99)} ms >= ${fmt(limits.p99Ms)} ms`)
      if (limits.maxFailures !== undefined && f.failures > limits.maxFailures) {
        breaches.push(`${name}: ${f.failures} failures (${f.timeouts} timeouts, ${f.errors} errors, ${f.flipBacks} flip-backs${what === 'api -> article' && c.api.ownStale > 0 ? `, ${c.api.ownStale} stale own reads` : ''}) > ${limits.maxFailures}`)
      }
      if (f.changes === 0 && limits.maxFailures !== undefined) breaches.push(`${name}: no change measured`)
    }
  }
  return breaches
}
