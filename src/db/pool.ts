import pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'

export interface PoolOptions {
  connectionString: string
  max: number
  log: FastifyBaseLogger
}

export function createPool ({ connectionString, max, log }: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30000,
    statement_timeout: 5000,
    application_name: 'gravity-bff'
  })
  // An idle client's error (server restart, network cut) is emitted on the pool; unhandled, it
  // would crash the process. The pool drops that client and the next query opens a new one.
  pool.on('error', err => log.warn({ err }, 'idle PostgreSQL client failed'))
  return pool
}
