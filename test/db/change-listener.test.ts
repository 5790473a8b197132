import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import pg from 'pg'
import t, { type Test } from 'tap'
import { parseChangeEvent, type ChangeEvent } from '../../src/db/change-events.js'
import {
  createChangeListener, LISTENER_APPLICATION_NAME, type ChangeListenerLog, type ChangeListenerOptions
} from '../../src/db/change-listener.js'
import { runMigrations } from '../../src/db/migrate.js'
import { createTestDatabase } from '../helper.js'

// Fastify's logger is what the app passes in.
export const fastifyLoggerFits = (log: FastifyBaseLogger): ChangeListenerLog => log

const url = await createTestDatabase(t)
await runMigrations(url)
const database = new URL(url).pathname.slice(1)
const writer = new pg.Client({ connectionString: url })
await writer.connect()
t.teardown(() => writer.end())

/** Polls until `check` returns something truthy (5 s at most). */
async function until<T> (check: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

interface LogLine { level: string, obj: object | string, msg?: string }

function harness (t: Test, options: Partial<ChangeListenerOptions> = {}) {
  const lines: LogLine[] = []
  const events: ChangeEvent[] = []
  const resets: string[] = []
  const line = (level: string) => (obj: object | string, msg?: string) => { lines.push({ level, obj, msg }) }
  const listener = createChangeListener({
    connectionString: url,
    log: { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') },
    onChange: event => events.push(event),
    onReset: reason => resets.push(reason),
    ...options
  })
  t.teardown(() => listener.stop())
  const logged = (level: string) => lines.filter(l => l.level === level).map(l => l.msg)
  return { listener, lines, events, resets, logged }
}

/** The listener's backends on the test database (never any other), with their last query. */
async function listenerSessions (): Promise<Array<{ pid: number, query: string }>> {
  const { rows } = await writer.query<{ pid: number, query: string }>(
    'SELECT pid, query FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
    [database, LISTENER_APPLICATION_NAME])
  return rows
}

/** The backend of the listener, found by its LISTEN. */
async function listenerPid (): Promise<number | undefined> {
  const { rows } = await writer.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND query LIKE 'LISTEN%'",
    [database, LISTENER_APPLICATION_NAME])
  if (rows.length > 1) throw new Error('more than one listener backend')
  return rows[0]?.pid
}

/** A plain LISTEN session: once it has a notification, any listener would have it too. */
async function witness (t: Test) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  const payloads: string[] = []
  client.on('notification', msg => payloads.push(msg.payload ?? ''))
  await client.query('LISTEN gravity_changes')
  return payloads
}

let counter = 0
async function insertUser (): Promise<string> {
  const username = `user${++counter}`
  await writer.query('INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3)', [username, `${username}@x`, 'h'])
  return username
}

function hasUser (events: ChangeEvent[], username: string): boolean {
  return events.some(e => e.table === 'users' && !e.all && e.usernames.includes(username))
}

t.test('receives changes made with plain SQL', async t => {
  const { listener, events, resets, lines } = harness(t)
  t.equal(listener.ready, false, 'not ready before start')
  await listener.start()
  t.equal(listener.ready, true, 'ready once start() resolves')

  const started = performance.now()
  const username = await insertUser()
  await until(() => hasUser(events, username), 'the insert')
  t.comment(`insert → onChange: ${(performance.now() - started).toFixed(1)} ms`)
  const { rows } = await writer.query<{ id: number }>('SELECT id FROM users WHERE username = $1', [username])
  // "at": when the statement began (migration 005), on the database's clock: this machine's.
  const timed = (event: ChangeEvent | undefined) => {
    const { at, lsn, ...rest } = event ?? {} as ChangeEvent
    t.ok(typeof at === 'number' && Math.abs(Date.now() - at) < 60_000, `"at" is the statement's time (${String(at)})`)
    t.match(lsn, /^[0-9A-F]+\/[0-9A-F]+$/, `"lsn" is a WAL position (${String(lsn)})`)
    return rest
  }
  t.same(timed(events.at(-1)), { table: 'users', op: 'INSERT', all: false, ids: [rows[0]!.id], usernames: [username] })

  await writer.query('UPDATE articles SET title = title') // no rows: no notification
  await writer.query("INSERT INTO tags (name) SELECT 't' || g FROM generate_series(1, 300) g")
  await until(() => events.some(e => e.table === 'tags'), 'the tags insert')
  t.same(timed(events.at(-1)), { table: 'tags', op: 'INSERT', all: true })
  t.same(resets, [], 'no reset on a clean start')
  t.same(lines, [], 'nothing logged')
})

t.test('skips malformed payloads and survives a throwing handler', async t => {
  const { listener, events, lines, logged } = harness(t, {
    onChange: event => {
      if (event.table === 'tags') throw new Error('handler bug')
      events.push(event)
    }
  })
  await listener.start()
  await writer.query('SELECT pg_notify($1, $2), pg_notify($1, $3)', ['gravity_changes', 'not json', '{"t":"nope","op":"INSERT"}'])
  await writer.query("INSERT INTO tags (name) VALUES ('x')")
  const username = await insertUser()
  await until(() => hasUser(events, username), 'the insert after them')
  t.same(logged('warn'), ['ignoring malformed change notification', 'ignoring malformed change notification'])
  t.match(lines.find(l => l.level === 'warn')?.obj, { payload: 'not json', err: { message: 'change payload is not JSON' } })
  t.same(logged('error'), ['change handler failed'])
  t.match(lines.find(l => l.level === 'error')?.obj, { err: { message: 'handler bug' }, event: { table: 'tags', op: 'INSERT' } })
  t.equal(listener.ready, true)
})

t.test('reconnects after its backend is terminated', async t => {
  const { listener, events, resets, logged } = harness(t, { heartbeatMs: 0 })
  await listener.start()
  const pid = await until(listenerPid, 'the listener backend')

  const { rows } = await writer.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid])
  t.equal(rows[0]?.ok, true, 'terminated')
  await until(() => resets.length > 0, 'onReset')
  t.same(resets, ['reconnected'])
  t.equal(listener.ready, true)
  t.same(logged('warn'), ['change listener lost its PostgreSQL connection; reconnecting'], 'one warn line')
  t.same(logged('info'), ['change listener reconnected'], 'one info line')
  const newPid = await until(listenerPid, 'the new backend')
  t.not(newPid, pid, 'a new session')

  const username = await insertUser()
  await until(() => hasUser(events, username), 'a change after reconnecting')
  t.pass('receives changes again')

  // And again: backoff starts from the minimum after a success.
  await writer.query('SELECT pg_terminate_backend($1)', [newPid])
  await until(() => resets.length > 1, 'second onReset')
  t.equal(logged('warn').length, 2)
})

t.test('a throwing onReset is logged, not fatal', async t => {
  const { listener, events, logged } = harness(t, { heartbeatMs: 0, onReset: () => { throw new Error('reset bug') } })
  await listener.start()
  await writer.query('SELECT pg_terminate_backend($1)', [await until(listenerPid, 'the listener backend')])
  await until(() => logged('error').length > 0, 'the error line')
  t.same(logged('error'), ['change listener reset handler failed'])
  t.equal(listener.ready, true)
  const username = await insertUser()
  await until(() => hasUser(events, username), 'a change after reconnecting')
  t.pass('receives changes')
})

t.test('stop() is clean and idempotent', async t => {
  const { listener, events, lines } = harness(t, { heartbeatMs: 0 })
  await listener.start()
  await until(listenerPid, 'the listener backend')
  const first = listener.stop()
  t.equal(listener.stop(), first, 'same promise')
  await first
  await listener.stop()
  t.equal(listener.ready, false)
  await until(async () => (await listenerSessions()).length === 0, 'the backend to exit')
  const seen = await witness(t)
  const username = await insertUser()
  await until(() => seen.some(p => p.includes(username)), 'the witness to get the insert')
  t.notOk(hasUser(events, username), 'nothing delivered after stop')
  t.same(lines, [], 'no warning for an intended close')
  await listener.start()
  t.equal(listener.ready, false, 'start() after stop() does not reconnect')
})

t.test('stop() while connecting or waiting to retry', async t => {
  const { listener } = harness(t)
  const starting = listener.start()
  await listener.stop()
  await starting
  t.equal(listener.ready, false)
  await until(async () => (await listenerSessions()).length === 0, 'no session left behind')
  t.pass('no session left behind')
})

/**
 * A TCP proxy to PostgreSQL whose connections can be frozen (bytes dropped both ways, as on a
 * dead network path) and that can be started late (the port refuses connections until then).
 */
async function createProxy (t: Test) {
  const target = new URL(url)
  const probe = net.createServer()
  await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as net.AddressInfo).port
  await new Promise(resolve => probe.close(resolve))

  const pairs = new Set<{ client: net.Socket, upstream: net.Socket, frozen: boolean }>()
  const server = net.createServer(client => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname)
    const pair = { client, upstream, frozen: false }
    pairs.add(pair)
    client.on('data', data => { if (!pair.frozen) upstream.write(data) })
    upstream.on('data', data => { if (!pair.frozen) client.write(data) })
    const close = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    for (const socket of [client, upstream]) {
      socket.on('close', close)
      socket.on('error', () => {})
    }
  })
  t.teardown(async () => {
    for (const pair of pairs) pair.client.destroy()
    if (server.listening) await new Promise(resolve => server.close(resolve))
  })
  const proxied = new URL(url)
  proxied.port = String(port)
  return {
    url: proxied.toString(),
    listen: () => new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve)),
    freeze: () => { for (const pair of pairs) pair.frozen = true },
    get connections () { return pairs.size }
  }
}

t.test('start() with PostgreSQL unreachable resolves and keeps retrying', async t => {
  const proxy = await createProxy(t)
  const { listener, events, resets, logged } = harness(t, { connectionString: proxy.url, maxBackoffMs: 200 })
  await listener.start()
  t.equal(listener.ready, false, 'not ready')
  t.same(logged('warn'), ['change listener could not connect to PostgreSQL; retrying in the background'])
  await until(() => logged('debug').length >= 2, 'failed retries')
  t.pass('failed retries are debug lines')
  t.equal(logged('warn').length, 1, 'still one warn line')

  await proxy.listen()
  await until(() => listener.ready, 'ready')
  t.same(resets, ['reconnected'], 'onReset: anything cached while not listening is suspect')
  t.same(logged('info'), ['change listener reconnected'])
  const username = await insertUser()
  await until(() => hasUser(events, username), 'a change')
  t.pass('receives changes')
})

t.test('a heartbeat detects a connection that went silent', async t => {
  const proxy = await createProxy(t)
  await proxy.listen()
  const { listener, events, resets, logged, lines } = harness(t, { connectionString: proxy.url, heartbeatMs: 100 })
  await listener.start()
  await until(async () => (await listenerSessions())[0]?.query === 'SELECT 1', 'a heartbeat')
  await sleep(250) // a few more heartbeats
  t.same(resets, [], 'answered heartbeats: no reset')

  proxy.freeze() // no error, no FIN: only the heartbeat can notice
  await until(() => resets.length > 0, 'onReset after the silent connection')
  t.same(logged('warn'), ['change listener lost its PostgreSQL connection; reconnecting'])
  t.match(lines.find(l => l.level === 'warn')?.obj, { err: { message: 'no reply to a heartbeat within 100 ms' } })
  await until(() => proxy.connections === 1, 'the frozen connection to be closed')
  const username = await insertUser()
  await until(() => hasUser(events, username), 'a change over the new connection')
  t.pass('receives changes again')
})

t.test('stop() during backoff stops retrying', async t => {
  const proxy = await createProxy(t)
  const { listener, logged } = harness(t, { connectionString: proxy.url, minBackoffMs: 50, maxBackoffMs: 50 })
  await listener.start()
  await until(() => logged('debug').length >= 1, 'a failed retry')
  await listener.stop()
  const attempts = logged('debug').length
  await sleep(200)
  t.equal(logged('debug').length, attempts, 'no attempt after stop')
})

t.test('parseChangeEvent', async t => {
  t.same(parseChangeEvent('{"t":"favorites","op":"DELETE","articles":[1],"users":[2,3],"later":"ignored"}'),
    { table: 'favorites', op: 'DELETE', all: false, articles: [1], users: [2, 3] })
  t.same(parseChangeEvent('{"t":"comments","op":"TRUNCATE","all":true}'), { table: 'comments', op: 'TRUNCATE', all: true })
  t.same(parseChangeEvent('{"t":"users","op":"UPDATE","all":false,"ids":[],"usernames":[]}'),
    { table: 'users', op: 'UPDATE', all: false, ids: [], usernames: [] })
  const bad: Array<[string, RegExp]> = [
    ['', /not JSON/],
    ['[1]', /not an object/],
    ['null', /not an object/],
    ['{"t":"constructor","op":"INSERT","all":true}', /unknown table/],
    ['{"t":"users","op":"MERGE","all":true}', /unknown op/],
    ['{"t":"users","op":"INSERT","all":"yes"}', /invalid "all"/],
    ['{"t":"users","op":"INSERT","ids":[1]}', /"usernames" of a users change must be an array of strings/],
    ['{"t":"users","op":"INSERT","ids":[1.5],"usernames":[]}', /"ids" of a users change must be an array of integers/],
    ['{"t":"articles","op":"INSERT","ids":[1],"slugs":[2],"authors":[1]}', /"slugs"/]
  ]
  for (const [payload, message] of bad) t.throws(() => parseChangeEvent(payload), { message }, payload || '(empty)')
})
