// The service deployed as it runs in production, on this machine: instances of the built service
// behind HAProxy, their queries through PgBouncer (transaction pooling) and their LISTEN session
// direct to PostgreSQL, one Redis; every part on a free port under one temporary directory.
// Used by test/cluster.test.ts and by `npm run cluster` (bench/cluster.ts).
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import pg from 'pg'
import { clusterInstance, type ClusterInstance, type LogLine } from './cluster-instance.js'
import { startHaproxy, type Haproxy } from './cluster-haproxy.js'
import { runAs, startPgBouncer, startPostgres, startRedis } from './cluster-parts.js'
import { freePort } from './server.js'

export type { ClusterInstance, LogLine }

export interface ClusterOptions {
  /** dist/server.js of a build */
  serverJs: string
  /** Direct URL of the database (migrated here); unset: a PostgreSQL of the cluster's own, with the demo data. */
  databaseUrl?: string
  /** default 3 */
  instances?: number
  /** HAProxy's health check interval; the instances' SHUTDOWN_DELAY_MS follows from it. Default 1000. */
  checkMs?: number
  lbPort?: number
  /** More variables for every instance (they override the cluster's). */
  env?: Record<string, string>
  onLine?: (instance: string, line: LogLine) => void
}

export interface Cluster {
  dir: string
  lbUrl: string
  /** the database, direct */
  databaseUrl: string
  /** the database through PgBouncer, and PgBouncer's admin console */
  pooledUrl: string
  pgbouncerAdminUrl: string
  redisUrl: string
  haproxy: Haproxy
  instances: ClusterInstance[]
  /** demo data was loaded (the cluster's own PostgreSQL) */
  demo: boolean
  /** One query on the database, direct (as another service writing it would). */
  sql: <R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<R[]>
  /** Resolves once HAProxy sees the instance UP (or DOWN). */
  waitFor: (name: string, status: 'UP' | 'DOWN', timeoutMs?: number) => Promise<void>
  stop: () => Promise<void>
}

export async function startCluster (options: ClusterOptions): Promise<Cluster> {
  const checkMs = options.checkMs ?? 1000
  const dir = mkdtempSync(join(tmpdir(), 'gravity-cluster-'))
  const user = runAs()
  if (user !== undefined) chownSync(dir, user.uid, user.gid)
  const stops: Array<() => Promise<void>> = [async () => rmSync(dir, { recursive: true, force: true })]
  const stop = async () => {
    for (const next of stops.splice(0).reverse()) await next().catch(() => {})
  }
  try {
    const own = options.databaseUrl === undefined ? await startPostgres(dir) : undefined
    if (own !== undefined) stops.push(own.stop)
    const databaseUrl = options.databaseUrl ?? (own as { url: string }).url
    const redis = await startRedis(dir)
    stops.push(redis.stop)
    const pgbouncer = await startPgBouncer(dir, databaseUrl)
    stops.push(pgbouncer.stop)
    const env: Record<string, string> = {
      JWT_SECRET: randomBytes(32).toString('base64url'),
      DATABASE_URL: pgbouncer.url,
      // LISTEN holds a session: transaction pooling would hand it to other clients.
      DATABASE_LISTEN_URL: databaseUrl,
      // PgBouncer 1.18 hands each transaction to any server connection: none has our statements.
      PG_PREPARED_STATEMENTS: 'off',
      REDIS_URL: redis.url,
      MIGRATE_ON_START: 'off',
      // Readiness fails for this long before the instance closes: HAProxy must have seen two failed checks.
      SHUTDOWN_DELAY_MS: String(3 * checkMs + 1000),
      // HAProxy, on loopback, sends the client's address in X-Forwarded-For.
      TRUST_PROXY: 'loopback',
      ...options.env
    }
    await migrate(options.serverJs, env)
    const demo = own !== undefined && await seedDemo(options.serverJs, databaseUrl)

    const count = options.instances ?? 3
    const ports = await Promise.all(Array.from({ length: count }, () => freePort()))
    const instances = ports.map((port, i) => clusterInstance({
      name: `i${i + 1}`,
      port,
      serverJs: options.serverJs,
      cwd: dirname(dirname(options.serverJs)),
      env,
      onLine: options.onLine === undefined ? undefined : line => options.onLine?.(`i${i + 1}`, line)
    }))
    stops.push(async () => { await Promise.all(instances.map(i => i.stop())) })
    await Promise.all(instances.map(i => i.start()))
    const haproxy = await startHaproxy(dir, { servers: instances.map(i => ({ name: i.name, port: i.port })), checkMs, port: options.lbPort })
    stops.push(haproxy.stop)

    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'gravity-cluster' })
    stops.push(() => pool.end())
    const waitFor = async (name: string, status: 'UP' | 'DOWN', timeoutMs = 30000) => {
      const deadline = Date.now() + timeoutMs
      while ((await haproxy.stats()).find(s => s.name === name)?.status !== status) {
        if (Date.now() > deadline) throw new Error(`HAProxy does not see ${name} ${status} within ${timeoutMs} ms: ${JSON.stringify(await haproxy.stats())}`)
        await sleep(50)
      }
    }
    for (const instance of instances) await waitFor(instance.name, 'UP', 60000)
    return {
      dir,
      lbUrl: haproxy.url,
      databaseUrl,
      pooledUrl: pgbouncer.url,
      pgbouncerAdminUrl: pgbouncer.adminUrl,
      redisUrl: redis.url,
      haproxy,
      instances,
      demo,
      sql: async (text, values) => (await pool.query(text, values)).rows,
      waitFor,
      stop
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Migrations once, before any instance starts, as a deployment's step would (on DATABASE_LISTEN_URL, direct). */
async function migrate (serverJs: string, env: Record<string, string>): Promise<void> {
  await promisify(execFile)(process.execPath, [join(dirname(serverJs), 'db', 'migrate-cli.js')],
    { cwd: dirname(dirname(serverJs)), env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env } })
}

/** The demo data set npm start loads into its embedded database, from the same build. */
async function seedDemo (serverJs: string, databaseUrl: string): Promise<boolean> {
  const built = (path: string) => import(pathToFileURL(join(dirname(serverJs), path)).href)
  const { seedDemoData } = await built('db/demo-seed.js') as { seedDemoData: (pool: pg.Pool, hash: (p: string) => Promise<string>, log: { info: () => void }) => Promise<boolean> }
  const { hashPassword } = await built('lib/password.js') as { hashPassword: (p: string) => Promise<string> }
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 })
  try {
    await seedDemoData(pool, hashPassword, { info: () => {} })
    return true
  } finally {
    await pool.end()
  }
}
