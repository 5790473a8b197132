import fp from 'fastify-plugin'
import type { Pool } from 'pg'
import { runMigrations } from '../db/migrate.js'
import { createPool } from '../db/pool.js'

declare module 'fastify' {
  interface FastifyInstance {
    pg: Pool
  }
}

export default fp(async app => {
  const { DATABASE_URL, PG_POOL_MAX, MIGRATE_ON_START } = app.config
  if (MIGRATE_ON_START === 'on') {
    const applied = await runMigrations(DATABASE_URL)
    if (applied.length > 0) app.log.info({ applied }, 'database migrated')
  }

  const pool = createPool({ connectionString: DATABASE_URL, max: PG_POOL_MAX, log: app.log })
  app.decorate('pg', pool)
  app.addHook('onClose', async () => { await pool.end() })
}, { name: 'db', dependencies: ['config'] })
