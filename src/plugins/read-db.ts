import fp from 'fastify-plugin'
import { createPool } from '../db/pool.js'
import { createReadPool, type ReadPool } from '../db/read-pool.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** What the repositories read through: the replica (DATABASE_READ_URL) when it is current enough, else app.pg. */
    pgRead: ReadPool
  }
}

// The replica's pool has the primary's deadlines and health checks, but its health is its own:
// a replica that is down sends reads to the primary, and readiness does not depend on it.
export default fp(async app => {
  const { DATABASE_READ_URL, PG_POOL_MAX, PG_QUERY_TIMEOUT_MS, PG_STATEMENT_TIMEOUT_MS, PG_CONNECT_TIMEOUT_MS, SLOW_QUERY_MS, REPLICA_MAX_WAIT_MS } = app.config
  if (DATABASE_READ_URL === undefined) {
    app.decorate('pgRead', createReadPool({ primary: app.pg, maxWaitMs: REPLICA_MAX_WAIT_MS }))
    return
  }
  const replica = createPool({
    connectionString: DATABASE_READ_URL,
    max: PG_POOL_MAX,
    log: app.log.child({ database: 'replica' }),
    queryTimeoutMs: PG_QUERY_TIMEOUT_MS,
    statementTimeoutMs: PG_STATEMENT_TIMEOUT_MS,
    connectTimeoutMs: PG_CONNECT_TIMEOUT_MS,
    slowQueryMs: SLOW_QUERY_MS
  })
  const pgRead = createReadPool({ primary: app.pg, replica, maxWaitMs: REPLICA_MAX_WAIT_MS })
  app.decorate('pgRead', pgRead)
  // A write request reads its own writes: on the primary.
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.method === 'GET' || request.method === 'HEAD') done()
    else pgRead.onPrimary(done)
  })
  app.addHook('onClose', async () => {
    replica.health.close()
    await replica.pool.end()
  })
}, { name: 'read-db', dependencies: ['config', 'db'] })
