import pg from 'pg'
import { CHANGE_CHANNEL, parseChangeEvent, type ChangeEvent } from './change-events.js'

type LogFn = (obj: object | string, msg?: string) => void
/** The subset of a pino / Fastify logger the listener uses. */
export interface ChangeListenerLog { debug: LogFn, info: LogFn, warn: LogFn, error: LogFn }

export interface ChangeListenerOptions {
  /** A direct session to PostgreSQL (LISTEN does not survive transaction pooling): DATABASE_LISTEN_URL. */
  connectionString: string
  log: ChangeListenerLog
  /** Each change committed by any writer, in commit order. */
  onChange: (event: ChangeEvent) => void
  /**
   * Notifications may have been missed (the connection was down, or was not up at start):
   * called once LISTEN is active again, so everything cached before this call must be dropped.
   */
  onReset: (reason: string) => void
  /** Called each time LISTEN becomes active, on the first connection and on every reconnection. */
  onListening?: () => void
  /** Further channels to LISTEN on, with the handler of their payloads (delivered in commit order with the changes). */
  channels?: Record<string, (payload: string) => void>
  /** Reconnect delays double from `minBackoffMs` up to `maxBackoffMs`, with jitter. Default 100 / 5000. */
  minBackoffMs?: number
  maxBackoffMs?: number
  /**
   * How often the idle connection is checked with `SELECT 1`; a check still unanswered at the
   * next one counts as a lost connection (a silently dropped TCP flow delivers no notifications
   * and no error). Default 10000; 0 disables.
   */
  heartbeatMs?: number
  /** Default 5000. */
  connectTimeoutMs?: number
  /** The session's application_name, as pg_stat_activity shows it. Default LISTENER_APPLICATION_NAME. */
  applicationName?: string
}

export interface ChangeListener {
  /**
   * Connects and LISTENs. Resolves once LISTEN is active, or once the first attempt failed: then
   * it keeps retrying in the background, `ready` stays false and `onReset` fires when it is up.
   */
  start: () => Promise<void>
  /** Closes the connection and stops retrying. Idempotent. */
  stop: () => Promise<void>
  /** LISTEN is active: changes are being received. While false, cached data may be stale. */
  readonly ready: boolean
  /** Sends a notification from this session (not the pool, so it never waits for a connection); fails while not ready. */
  notify: (channel: string, payload: string) => Promise<void>
  /** The session is not delivering (found by its user): drop it and reconnect, as on a lost connection. */
  restart: (reason: string) => void
  /**
   * The primary's WAL positions and WAL page size, read on this session (direct to the primary,
   * never waiting for a pool). Read after a change was delivered, `insert` is at or past its
   * commit, and so is `flush` if the commit was synchronous. Fails while not ready.
   */
  walPosition: () => Promise<WalPosition>
}

export interface WalPosition { insert: string, flush: string, blockSize: number }

export const LISTENER_APPLICATION_NAME = 'gravity-bff-changes'

export function createChangeListener (options: ChangeListenerOptions): ChangeListener {
  const { connectionString, log, onChange, onReset } = options
  const channels = options.channels ?? {}
  const minBackoffMs = options.minBackoffMs ?? 100
  const maxBackoffMs = options.maxBackoffMs ?? 5000
  const heartbeatMs = options.heartbeatMs ?? 10_000
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000

  let live: pg.Client | undefined // LISTEN active on it
  let connecting: pg.Client | undefined
  let attempt: Promise<void> | undefined // the latest connect()
  let starting: Promise<void> | undefined
  let stopping: Promise<void> | undefined
  let retryTimer: NodeJS.Timeout | undefined
  let heartbeatTimer: NodeJS.Timeout | undefined
  let attempts = 0 // failed attempts since the connection was lost
  let downSince: number | undefined // set while notifications may be missed

  function deliver (payload: string | undefined): void {
    let event: ChangeEvent
    try {
      event = parseChangeEvent(payload ?? '')
    } catch (err) {
      log.warn({ err, payload: payload?.slice(0, 200) }, 'ignoring malformed change notification')
      return
    }
    try {
      onChange(event)
    } catch (err) {
      log.error({ err, event: { table: event.table, op: event.op } }, 'change handler failed')
    }
  }

  // One attempt: a new client, connected, with LISTEN active. Errors of a client that is not
  // `live` are reported through this promise only; its events are ignored.
  async function connect (): Promise<void> {
    const client = new pg.Client({
      connectionString,
      application_name: options.applicationName ?? LISTENER_APPLICATION_NAME,
      connectionTimeoutMillis: connectTimeoutMs,
      keepAlive: true
    })
    connecting = client
    client.on('error', err => lost(client, err))
    client.on('end', () => lost(client, new Error('connection ended')))
    // Also while `connecting`: a notification can arrive in the same read as LISTEN's reply,
    // before this function resumes.
    client.on('notification', msg => {
      if (client !== live && client !== connecting) return
      if (msg.channel === CHANGE_CHANNEL) deliver(msg.payload)
      else if (Object.hasOwn(channels, msg.channel)) channels[msg.channel]?.(msg.payload ?? '')
    })
    try {
      await client.connect()
      await client.query([CHANGE_CHANNEL, ...Object.keys(channels)].map(channel => `LISTEN ${channel};`).join(' '))
    } catch (err) {
      client.end().catch(() => {})
      throw err
    } finally {
      if (connecting === client) connecting = undefined
    }
    if (stopping) {
      await client.end().catch(() => {})
      return
    }
    live = client
    startHeartbeat(client)
    options.onListening?.()
    if (downSince !== undefined) {
      log.info({ downMs: Date.now() - downSince, attempts: attempts + 1 }, 'change listener reconnected')
      downSince = undefined
      attempts = 0
      try {
        onReset('reconnected')
      } catch (err) {
        log.error({ err }, 'change listener reset handler failed')
      }
    }
  }

  function lost (client: pg.Client, err: Error): void {
    if (client !== live) return
    live = undefined
    stopHeartbeat()
    client.end().catch(() => {})
    downSince = Date.now()
    log.warn({ err }, 'change listener lost its PostgreSQL connection; reconnecting')
    scheduleRetry()
  }

  function scheduleRetry (): void {
    if (stopping || retryTimer) return
    const ceiling = Math.min(maxBackoffMs, minBackoffMs * 2 ** Math.min(attempts, 30))
    const delay = ceiling / 2 + Math.random() * ceiling / 2
    retryTimer = setTimeout(() => {
      retryTimer = undefined
      attempt = connect()
      attempt.catch((err: unknown) => {
        attempts++
        log.debug({ err, attempts }, 'change listener reconnect failed')
        scheduleRetry()
      })
    }, delay)
    retryTimer.unref()
  }

  // The first attempt is awaited by start(); if it fails, start() still resolves (not ready) and
  // retries continue in the background, ending in onReset once connected.
  function firstConnect (): Promise<void> {
    attempt = connect()
    return attempt.catch((err: unknown) => {
      if (stopping) return
      downSince = Date.now()
      attempts = 1
      log.warn({ err }, 'change listener could not connect to PostgreSQL; retrying in the background')
      scheduleRetry()
    })
  }

  function startHeartbeat (client: pg.Client): void {
    if (heartbeatMs <= 0) return
    let pending = false
    heartbeatTimer = setInterval(() => {
      if (pending) {
        lost(client, new Error(`no reply to a heartbeat within ${heartbeatMs} ms`))
        return
      }
      pending = true
      client.query('SELECT 1').then(() => { pending = false }, () => {}) // failures arrive as 'error'
    }, heartbeatMs)
    heartbeatTimer.unref()
  }

  function stopHeartbeat (): void {
    clearInterval(heartbeatTimer)
    heartbeatTimer = undefined
  }

  return {
    start () {
      starting ??= stopping ? Promise.resolve() : firstConnect()
      return starting
    },

    stop () {
      stopping ??= (async () => {
        clearTimeout(retryTimer)
        retryTimer = undefined
        stopHeartbeat()
        // A connection attempt is cut short (pg's end() cannot interrupt a startup handshake)
        // and fails; a live session is closed politely.
        connecting?.connection.stream.destroy()
        const client = live
        live = undefined
        await Promise.all([attempt?.catch(() => {}), client?.end().catch(() => {})])
      })()
      return stopping
    },

    get ready () {
      return live !== undefined
    },

    restart (reason) {
      if (live !== undefined) lost(live, new Error(reason))
    },

    async notify (channel, payload) {
      if (live === undefined) throw new Error('the change listener is not connected')
      await live.query('SELECT pg_notify($1, $2)', [channel, payload])
    },

    async walPosition () {
      if (live === undefined) throw new Error('the change listener is not connected')
      const { rows } = await live.query<WalPosition>(
        `SELECT pg_current_wal_insert_lsn()::text AS insert, pg_current_wal_flush_lsn()::text AS flush,
           current_setting($1)::int AS "blockSize"`, ['wal_block_size'])
      return rows[0] as WalPosition
    }
  }
}
