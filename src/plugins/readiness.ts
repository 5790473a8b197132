import { readdirSync } from 'node:fs'
import fp from 'fastify-plugin'
import { MIGRATIONS_DIR } from '../db/migrate.js'
import type { ReadinessReport } from '../schemas/health.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Whether this instance should receive traffic, and what is wrong or degraded if not. */
    readiness: () => Promise<ReadinessReport>
  }
}

// The highest migration this build ships: the database must have applied it.
const LATEST_MIGRATION = Math.max(0, ...readdirSync(MIGRATIONS_DIR)
  .map(name => /^(\d+)_.*\.sql$/.exec(name)?.[1]).filter(id => id !== undefined).map(Number))
const CHECK_TIMEOUT_MS = 2000

// Readiness asks PostgreSQL (the source of truth) once per probe; Redis and the LISTEN session
// are reported from their owners' state, without I/O: without them reads fail open to PostgreSQL,
// so they make the instance degraded, never unready.
export default fp(async app => {
  async function migrations (): Promise<number> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS)
    })
    try {
      const query = app.pg.query<{ id: number }>('SELECT coalesce(max(id), 0)::int AS id FROM migrations')
        .then(({ rows }) => rows[0]?.id ?? 0, (err: { code?: string }) => {
          // undefined_table: a database no migration has reached yet is behind (0), not unreachable.
          if (err.code === '42P01') return 0
          throw err
        })
      query.catch(() => {})
      return await Promise.race([query, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  app.decorate('readiness', async (): Promise<ReadinessReport> => {
    const cache = app.cache
    const checks: ReadinessReport['checks'] = {
      postgres: 'ok',
      migrations: 'ok',
      redis: cache?.redis === undefined ? 'off' : cache.redis.available ? 'ok' : 'degraded',
      changes: cache === null ? 'off' : cache.listener.ready ? 'ok' : 'degraded'
    }
    const errors: Record<string, string[]> = {}
    const health = app.dbHealth
    if (health.downSince !== undefined) {
      // Known from the pool's own state (it probes every second): no query to wait on.
      checks.postgres = 'down'
      checks.migrations = 'down'
      errors.postgres = [`is unreachable since ${health.downSince.toISOString()} (${health.reason ?? 'unknown'}); ${health.refused} requests refused`]
    } else {
      try {
        const applied = await migrations()
        if (applied < LATEST_MIGRATION) {
          checks.migrations = 'down'
          errors.migrations = [`are not applied (database at ${applied}, this build needs ${LATEST_MIGRATION})`]
        }
      } catch (err) {
        checks.postgres = 'down'
        checks.migrations = 'down'
        errors.postgres = [`is unreachable: ${(err as Error).message}`]
      }
    }
    if (app.draining.active) return { status: 'draining', checks, errors: { ...errors, server: ['is shutting down'] } }
    if (Object.keys(errors).length > 0) return { status: 'unready', checks, errors }
    const degraded = checks.redis === 'degraded' || checks.changes === 'degraded'
    return { status: degraded ? 'degraded' : 'ready', checks }
  })
}, { name: 'readiness', dependencies: ['db', 'draining', 'cache'] })
