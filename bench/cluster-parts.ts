// The Debian processes of the local cluster (bench/local-cluster.ts): a redis-server, PgBouncer
// and, for a person without a database, a PostgreSQL of its own; each on a free port under the
// cluster's directory, stopped by its own signal, and killed with this process if it dies first.
import { spawn, type ChildProcess } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { freePort } from './server.js'

const PG_BIN = '/usr/lib/postgresql/15/bin'

export interface Part {
  name: string
  pid: number
  /** What it wrote on stdout and stderr (kept for the error when it fails to start). */
  output: () => string
  exited: Promise<number | string>
  /** Its own stop signal, SIGKILL if it has not exited within 10 s. */
  stop: () => Promise<void>
}

/** PostgreSQL and PgBouncer refuse to run as root: as root, they run as the postgres user. */
export function runAs (): { uid: number, gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  return {
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString())
  }
}

/**
 * Starts `command` through setpriv, so that it gets SIGTERM if this process dies without
 * stopping it (a test runner's timeout): nothing outlives the cluster on a shared machine. In a
 * process group of its own: a terminal's Ctrl-C reaches only this process, which stops the parts
 * in order (the instances before the database they drain into).
 */
export function startPart (name: string, command: string, args: string[], options: {
  stopSignal: NodeJS.Signals
  env?: NodeJS.ProcessEnv
  cwd?: string
  user?: boolean
  stdout?: (chunk: string) => void
}): Part & { child: ChildProcess } {
  const user = options.user === true ? runAs() : undefined
  const identity = user === undefined ? [] : ['--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups']
  const child = spawn('setpriv', [...identity, '--pdeathsig', 'TERM', '--', command, ...args], {
    cwd: options.cwd, env: options.env ?? { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'], detached: true
  })
  let output = ''
  const keep = (chunk: string) => { output = (output + chunk).slice(-20000) }
  child.stdout.setEncoding('utf8').on('data', options.stdout ?? keep)
  child.stderr.setEncoding('utf8').on('data', keep)
  const exited = new Promise<number | string>(resolve => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'exited'))
    child.once('error', err => resolve(err.message))
  })
  const running = () => child.exitCode === null && child.signalCode === null
  return {
    name,
    child,
    pid: child.pid as number,
    output: () => output,
    exited,
    async stop () {
      if (!running()) return
      child.kill(options.stopSignal)
      const killer = setTimeout(() => { if (running()) child.kill('SIGKILL') }, 10000)
      await exited
      clearTimeout(killer)
    }
  }
}

/** Polls `ready` until it is true; fails with the part's output if it exits or takes `timeoutMs`. */
export async function waitReady (part: Part, ready: () => Promise<boolean>, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exited: number | string | undefined
  part.exited.then(code => { exited = code }, () => {})
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`${part.name} exited (${exited}) before it was ready:\n${part.output()}`)
    if (await ready().catch(() => false)) return
    await sleep(100)
  }
  await part.stop()
  throw new Error(`${part.name} not ready within ${timeoutMs} ms:\n${part.output()}`)
}

/** Connects, runs one query and disconnects; resolves whether that worked. */
export async function answers (url: string, query = 'SELECT 1'): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query(query)
    return true
  } finally {
    client.end().catch(() => {})
  }
}

/** The cluster's own Redis: in memory only (no RDB, no AOF), like a cache's. */
export async function startRedis (dir: string): Promise<Part & { url: string }> {
  const port = await freePort()
  const part = startPart('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stopSignal: 'SIGTERM' })
  const url = `redis://127.0.0.1:${port}`
  await waitReady(part, async () => part.output().includes('Ready to accept connections'))
  return { ...part, url }
}

/**
 * PgBouncer 1.18 in transaction pooling mode in front of `target`'s server, every other setting
 * its default (so the service must work with a stock PgBouncer). Trust: it lets in the users of
 * its auth file, PostgreSQL authenticates them again; the admin console is the `pgbouncer` database.
 */
export async function startPgBouncer (dir: string, target: string): Promise<Part & { url: string, adminUrl: string }> {
  const server = new URL(target)
  const user = decodeURIComponent(server.username || 'postgres')
  const port = await freePort()
  writeFileSync(join(dir, 'pgbouncer-users.txt'), `"${user}" ""\n`)
  writeFileSync(join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `* = host=${server.hostname} port=${server.port || 5432}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'pgbouncer-users.txt')}`,
    'pool_mode = transaction',
    `admin_users = ${user}`,
    ''
  ].join('\n'))
  const part = startPart('pgbouncer', '/usr/sbin/pgbouncer', [join(dir, 'pgbouncer.ini')], { stopSignal: 'SIGINT', user: true, cwd: dir })
  const url = (database: string) => {
    const through = new URL(target)
    through.host = `127.0.0.1:${port}`
    through.pathname = `/${database}`
    return through.toString()
  }
  const adminUrl = url('pgbouncer')
  await waitReady(part, () => answers(adminUrl, 'SHOW VERSION'))
  return { ...part, url: url(decodeURIComponent(server.pathname.slice(1))), adminUrl }
}

/** A PostgreSQL 15 cluster of its own (initdb in `dir`, trust, no fsync): for `npm run cluster` without DATABASE_URL. */
export async function startPostgres (dir: string): Promise<Part & { url: string }> {
  const user = runAs()
  const data = join(dir, 'postgres')
  execFileSync(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
    { uid: user?.uid, gid: user?.gid, cwd: dir, stdio: 'ignore' })
  const port = await freePort()
  // SIGINT: fast shutdown (the instances are gone by then).
  const part = startPart('postgres', join(PG_BIN, 'postgres'), ['-D', data, '-p', String(port), '-k', dir,
    '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'], { stopSignal: 'SIGINT', user: true, cwd: dir })
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  await waitReady(part, () => answers(url))
  return { ...part, url }
}
