import { readFileSync } from 'node:fs'
import { failures, type ScenarioResult } from './results.js'

export interface Limits {
  /** p95 latency must stay below this (ms) */
  p95Ms?: number
  maxErrors?: number
  maxNon2xx?: number
  /** wrong statuses plus bodies without the documented shape */
  maxFailures?: number
  /** req/s as a share of baseline's must stay at or above this */
  minRatio?: number
}

export interface Budget {
  defaults: Limits
  scenarios: Record<string, Limits>
}

export function loadBudget (file: string): Budget {
  const budget = JSON.parse(readFileSync(file, 'utf8')) as Budget
  budget.defaults ??= {}
  budget.scenarios ??= {}
  return budget
}

const fmt = (n: number) => Number.isInteger(n) ? String(n) : n.toFixed(n < 1 ? 3 : 1)

/** One line per breached limit, naming the scenario and its figure; empty when all is within budget. */
export function checkBudget (results: ScenarioResult[], budget: Budget): string[] {
  const breaches: string[] = []
  for (const r of results) {
    const limits: Limits = { ...budget.defaults, ...budget.scenarios[r.name] }
    const over = (what: string, figure: number, limit: number | undefined, unit = '') => {
      if (limit !== undefined && figure > limit) breaches.push(`${r.name}: ${what} ${fmt(figure)}${unit} > ${fmt(limit)}${unit}`)
    }
    if (limits.p95Ms !== undefined && r.latency.p95 >= limits.p95Ms) {
      breaches.push(`${r.name}: p95 ${fmt(r.latency.p95)} ms >= ${fmt(limits.p95Ms)} ms`)
    }
    over('errors', r.errors, limits.maxErrors)
    over('non-2xx', r.non2xx, limits.maxNon2xx)
    over('failed checks (wrong status or body)', failures(r), limits.maxFailures)
    if (limits.minRatio !== undefined && r.ratio !== undefined && r.ratio < limits.minRatio) {
      breaches.push(`${r.name}: req/s ratio to baseline ${fmt(r.ratio)} < ${fmt(limits.minRatio)} (${fmt(r.rps)} req/s)`)
    }
  }
  return breaches
}
