// PostgreSQL clusters of a test's own, never the shared server: Debian's PostgreSQL 15 binaries,
// run as the postgres user (PostgreSQL refuses root) in a temporary directory it owns, on free
// ports. A primary (initdb), and streaming replicas of it (pg_basebackup -R). Each is stopped and
// its files removed when the test ends.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import type { Test } from 'tap'
import { freePort, until } from '../cache/cache-helper.js'

const BIN = '/usr/lib/postgresql/15/bin'
const SETTINGS = { listen_addresses: '127.0.0.1', fsync: 'off', max_connections: '20', shared_buffers: '16MB' }

export interface OwnPostgres {
  /** The `postgres` database. */
  url: string
  port: number
  /** The URL of another database on this cluster. */
  urlOf: (database: string) => string
  /** SIGSTOP to every process of the cluster; thaw() resumes them. */
  freeze: () => void
  thaw: () => void
  /** Fast shutdown; start() starts it again on the same port and data. */
  stop: () => Promise<void>
  start: () => Promise<void>
}

const owner = () => ({
  uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
  gid: Number(execFileSync('id', ['-g', 'postgres']).toString())
})

/** A temporary directory owned by postgres (removed by run's teardown, once its cluster stopped). */
function ownedDir (name: string): { dir: string, uid: number, gid: number } {
  const { uid, gid } = owner()
  const dir = mkdtempSync(join(tmpdir(), `gravity-${name}-`))
  chownSync(dir, uid, gid)
  return { dir, uid, gid }
}

async function accepting (url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    client.end().catch(() => {})
  }
}

/** Runs the cluster in `data` on a free port; it stops, and `dir` is removed, when the test ends. */
async function run (t: Test, { dir, uid, gid }: { dir: string, uid: number, gid: number }, data: string,
  settings: Record<string, string>): Promise<OwnPostgres> {
  const port = await freePort()
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  let postgres: ChildProcess | undefined
  let exited: Promise<unknown> = Promise.resolve()
  // PostgreSQL's children each call setsid(): signal the postmaster and every child by id.
  const processes = () => postgres?.pid === undefined
    ? []
    : [postgres.pid, ...execFileSync('ps', ['-o', 'pid=', '--ppid', String(postgres.pid)]).toString().split('\n').map(Number).filter(pid => pid > 0)]
  const signal = (name: NodeJS.Signals) => { for (const pid of processes()) process.kill(pid, name) }

  async function start (): Promise<void> {
    if (postgres !== undefined) return
    const options = Object.entries({ ...SETTINGS, ...settings }).flatMap(([name, value]) => ['-c', `${name}=${value}`])
    const child = spawn(join(BIN, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, ...options],
      { uid, gid, cwd: dir, detached: true, stdio: 'ignore' })
    postgres = child
    exited = new Promise(resolve => child.once('exit', resolve))
    child.once('exit', () => { if (postgres === child) postgres = undefined })
    await until(() => accepting(url), `own PostgreSQL on port ${port} to accept connections`, 30000)
  }

  async function stop (): Promise<void> {
    const child = postgres
    if (child === undefined) return
    try {
      signal('SIGCONT')
      child.kill('SIGINT') // fast shutdown
    } catch {}
    if (await Promise.race([exited.then(() => true), sleep(10000).then(() => false)]) === false) child.kill('SIGKILL')
    await exited
  }

  t.teardown(async () => {
    await stop()
    rmSync(dir, { recursive: true, force: true })
  })
  await start()
  return {
    url,
    port,
    urlOf: database => `postgres://postgres@127.0.0.1:${port}/${database}`,
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    stop,
    start
  }
}

/** A primary: initdb'd by the test (its default pg_hba.conf trusts local replication connections). */
export async function ownPostgres (t: Test, settings: Record<string, string> = {}): Promise<OwnPostgres> {
  const owned = ownedDir('pg')
  const data = join(owned.dir, 'data')
  execFileSync(join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
    { uid: owned.uid, gid: owned.gid, cwd: owned.dir, stdio: 'ignore' })
  return await run(t, owned, data, settings)
}

/** A hot standby streaming from `primary`: a base backup with -R (standby.signal and primary_conninfo). */
export async function ownReplica (t: Test, primary: OwnPostgres, settings: Record<string, string> = {}): Promise<OwnPostgres> {
  const owned = ownedDir('pg-replica')
  const data = join(owned.dir, 'data')
  execFileSync(join(BIN, 'pg_basebackup'), ['-D', data, '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres',
    '-R', '-X', 'stream', '-c', 'fast', '--no-sync'], { uid: owned.uid, gid: owned.gid, cwd: owned.dir, stdio: 'ignore' })
  return await run(t, owned, data, { hot_standby: 'on', ...settings })
}
