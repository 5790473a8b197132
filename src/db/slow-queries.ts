// Slow queries, for on-call: each one that answered slower than a threshold is logged at warn
// with its name (or the head of its SQL text, which holds no values: queries are parameterised)
// and its duration, never its parameters. A query that failed (a deadline, a lost connection) is
// the outage's to report (pool-health.ts), not one slow line per query in flight.
import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import { observeQueries } from './observe-queries.js'

const TEXT_HEAD = 120

type QueryArg = string | { text?: string, name?: string } | undefined

function nameOf (query: QueryArg): string {
  if (typeof query === 'object' && query !== null && typeof query.name === 'string') return query.name
  const text = typeof query === 'string' ? query : query?.text ?? '?'
  return text.replace(/\s+/g, ' ').trim().slice(0, TEXT_HEAD)
}

/** Times every query of this connection (pool connections, as the pool opens them). */
export function watchSlowQueries (client: pg.PoolClient, thresholdMs: number, log: FastifyBaseLogger): void {
  if (thresholdMs <= 0) return
  observeQueries(client, query => {
    const started = performance.now()
    return {
      finished (err) {
        if (err !== undefined && err !== null) return
        const durationMs = Math.round(performance.now() - started)
        if (durationMs >= thresholdMs) log.warn({ query: nameOf(query as QueryArg), durationMs, thresholdMs }, 'slow query')
      }
    }
  })
}
