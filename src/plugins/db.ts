import fp from 'fastify-plugin'
import type { Pool } from 'pg'
import { directDatabaseUrl } from '../config.js'
import { runMigrations } from '../db/migrate.js'
import type { DbHealth } from '../db/pool-health.js'
import { createPool } from '../db/pool.js'

declare module 'fastify' {
  interface FastifyInstance {
    pg: Pool
    /** Whether PostgreSQL answers, since when not, and how many requests were refused meanwhile. */
    dbHealth: DbHealth
  }
}

export default fp(async app => {
  const { DATABASE_URL, PG_POOL_MAX, PG_QUERY_TIMEOUT_MS, PG_STATEMENT_TIMEOUT_MS, PG_CONNECT_TIMEOUT_MS, SLOW_QUERY_MS, MIGRATE_ON_START } = app.config
  if (MIGRATE_ON_START === 'on') {
    const applied = await runMigrations(directDatabaseUrl(app.config))
    if (applied.length > 0) app.log.info({ applied }, 'database migrated')
  }

  const { pool, health } = createPool({
    connectionString: DATABASE_URL,
    max: PG_POOL_MAX,
    log: app.log,
    queryTimeoutMs: PG_QUERY_TIMEOUT_MS,
    statementTimeoutMs: PG_STATEMENT_TIMEOUT_MS,
    connectTimeoutMs: PG_CONNECT_TIMEOUT_MS,
    slowQueryMs: SLOW_QUERY_MS
  })
  app.decorate('pg', pool)
  app.decorate('dbHealth', health)
  app.addHook('onClose', async () => {
    health.close()
    await pool.end()
  })
}, { name: 'db', dependencies: ['config'] })
