import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import t from 'tap'
import { startEmbeddedPostgres, type EmbeddedLog, type EmbeddedPostgresHandle } from '../../src/db/embedded.js'

t.setTimeout(120_000)

const messages: string[] = []
const record = (o: object | string, msg?: string) => { messages.push(typeof o === 'string' ? o : msg ?? '') }
const log: EmbeddedLog = { debug: record, info: record, warn: record, error: record }

const base = await fs.mkdtemp(path.join(os.tmpdir(), 'conduit-embedded-'))
// postgres runs as the `postgres` user when we are root; mkdtemp creates 0700.
await fs.chmod(base, 0o755)
const dataDir = path.join(base, '.data', 'postgres')
const port = await freePort()
const start = () => startEmbeddedPostgres({ dataDir, port, log })
let running: EmbeddedPostgresHandle | undefined

t.teardown(async () => {
  for (const pid of await processesIn(base)) process.kill(pid, 'SIGKILL')
  await fs.rm(base, { recursive: true, force: true })
})

t.test('initialises a new data directory and serves queries', async (t) => {
  const db = await start()
  t.match(db.url, 'postgres://postgres:')
  t.match(db.url, `@127.0.0.1:${port}/conduit`)
  t.ok(await exists(path.join(dataDir, 'PG_VERSION')), 'initdb ran')
  t.equal(await scalar(db.url, 'SELECT 1'), 1)
  await scalar(db.url, 'CREATE TABLE marker AS SELECT 42 AS value')
  await db.stop()
  await db.stop() // idempotent
  t.notOk(await exists(path.join(dataDir, 'postmaster.pid')), 'clean shutdown removed the lock')
})

t.test('restarts on the existing data without initdb', async (t) => {
  messages.length = 0
  const db = await start()
  t.ok(messages.some(m => m.includes('reusing')), 'reused the data directory')
  t.notOk(messages.some(m => m.includes('initialising')), 'did not initialise again')
  t.equal(await scalar(db.url, 'SELECT value FROM marker'), 42)
  await db.stop()
})

t.test('recovers after the postmaster was killed', async (t) => {
  const crashed = await start()
  const pid = await postmasterPid()
  process.kill(pid, 'SIGKILL')
  await waitUntil(async () => !(await isRunning(pid)))
  t.ok(await exists(path.join(dataDir, 'postmaster.pid')), 'stale lock left behind')

  const db = await start()
  t.equal(await scalar(db.url, 'SELECT value FROM marker'), 42)
  // The crashed handle must neither hang nor touch the new server.
  await t.resolves(crashed.stop())
  t.equal(await scalar(db.url, 'SELECT 1'), 1)
  running = db
})

t.test('takes over a postgres still running on the data directory', async (t) => {
  const oldPid = await postmasterPid()
  const db = await start()
  t.not(await postmasterPid(), oldPid, 'a new postmaster owns the data directory')
  t.notOk(await isRunning(oldPid), 'the previous postmaster was stopped')
  await t.resolves(running!.stop())
  t.equal(await scalar(db.url, 'SELECT value FROM marker'), 42)
  await db.stop()
})

t.test('ignores a lock file whose pid belongs to some other process', async (t) => {
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' })
  t.teardown(() => { sleeper.kill() })
  await fs.writeFile(path.join(dataDir, 'postmaster.pid'), `${sleeper.pid}\n${dataDir}\n`)
  const db = await start()
  t.equal(await scalar(db.url, 'SELECT 1'), 1)
  t.equal(sleeper.exitCode, null, 'the unrelated process was left alone')
  await db.stop()
})

t.test('leaves no postgres processes behind', async (t) => {
  await waitUntil(async () => (await processesIn(base)).length === 0)
  t.same(await processesIn(base), [])
  const socket = net.connect(port, '127.0.0.1')
  const [err] = await once(socket, 'error') as [NodeJS.ErrnoException]
  t.equal(err.code, 'ECONNREFUSED', 'nothing listens on the port')
})

async function scalar (url: string, sql: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query(sql)
    return rows[0] ? Object.values(rows[0])[0] : undefined
  } finally {
    await client.end()
  }
}

async function freePort (): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

async function postmasterPid (): Promise<number> {
  const content = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')
  return Number.parseInt(content, 10)
}

async function isRunning (pid: number): Promise<boolean> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  return stat !== '' && stat[stat.lastIndexOf(')') + 2] !== 'Z'
}

// Every postgres process chdirs into its data directory, backends included.
async function processesIn (dir: string): Promise<number[]> {
  const real = await fs.realpath(dir)
  const pids: number[] = []
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const cwd = await fs.readlink(`/proc/${entry}/cwd`).catch(() => '')
    if (cwd === real || cwd.startsWith(real + path.sep)) pids.push(Number(entry))
  }
  return pids
}

async function exists (file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false)
}

async function waitUntil (check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await sleep(100)
  }
}
