// The pg pool the repositories query, with client-side deadlines: a connection that dies silently
// (failover, NAT or firewall idle timeout: no FIN, no RST) or a frozen server must cost a request
// at most a deadline, never hold the pool. The statement deadline is the server's to act on (a
// cancel request), so it cannot help when the server is unreachable; query_timeout is the client's own.
import pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import { createPoolGuard, type PoolGuard } from './pool-health.js'
import { watchSlowQueries } from './slow-queries.js'
import { enforceStatementDeadline } from './statement-deadline.js'

export interface PoolOptions {
  connectionString: string
  max: number
  log: FastifyBaseLogger
  /** Client-side deadline of a query (pg's query_timeout); the connection is dropped when it fires. */
  queryTimeoutMs: number
  /** Statements running longer are cancelled by the server (a cancel request); 0: none. */
  statementTimeoutMs: number
  /** Deadline to open a connection, or to get one from the pool. */
  connectTimeoutMs: number
  /** Queries at least this slow are logged (warn); 0: none. */
  slowQueryMs?: number
}

type ConnectCallback = (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: any) => void) => void

// pool.query goes through connect too, so this one override guards every use of the pool.
class GuardedPool extends pg.Pool {
  readonly guard: PoolGuard

  constructor (config: pg.PoolConfig, guard: PoolGuard) {
    super(config)
    this.guard = guard
  }

  override connect (): Promise<pg.PoolClient>
  override connect (callback: ConnectCallback): void
  override connect (callback?: ConnectCallback): Promise<pg.PoolClient> | undefined {
    const acquired = this.guard.acquire(() => super.connect())
    if (callback === undefined) return acquired
    acquired.then(client => callback(undefined, client, client.release), (err: Error) => callback(err, undefined, () => {}))
    return undefined
  }
}

export interface GuardedPoolAndHealth { pool: pg.Pool, health: PoolGuard }

export function createPool (options: PoolOptions): GuardedPoolAndHealth {
  const { connectionString, max, log, queryTimeoutMs, statementTimeoutMs, connectTimeoutMs, slowQueryMs = 0 } = options
  const config: pg.PoolConfig = {
    connectionString,
    max,
    connectionTimeoutMillis: connectTimeoutMs,
    query_timeout: queryTimeoutMs,
    // Finds an idle connection whose peer vanished (the kernel's probe interval and count apply).
    keepAlive: true,
    keepAliveInitialDelayMillis: 10000,
    idleTimeoutMillis: 30000,
    application_name: 'gravity-bff'
  }

  async function probe (): Promise<Error | undefined> {
    const client = new pg.Client({ ...config, application_name: 'gravity-bff probe' })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.query('SELECT 1')
      return undefined
    } catch (err) {
      return err as Error
    } finally {
      // Not awaited: on a dead connection the goodbye may never be acknowledged.
      client.end().catch(() => {})
    }
  }

  const health = createPoolGuard({ log, connectTimeoutMs, queryTimeoutMs, probe })
  const pool = new GuardedPool(config, health)
  pool.on('connect', client => {
    health.connected(client)
    enforceStatementDeadline(client, statementTimeoutMs)
    watchSlowQueries(client, slowQueryMs, log)
  })
  pool.on('release', (err: Error | null | undefined) => health.released(err))
  // An idle client's error (server restart, network cut) is emitted on the pool; unhandled, it
  // would crash the process. The pool drops that client and the next query opens a new one: if
  // PostgreSQL is down, that one fails and the outage is logged once (a line per pooled
  // connection would say the same thing PG_POOL_MAX times).
  pool.on('error', (err: Error & { code?: string }) => log.debug({ reason: err.message, code: err.code }, 'idle PostgreSQL connection lost'))
  return { pool, health }
}
