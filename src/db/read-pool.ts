// Where a read runs: on the streaming replica (DATABASE_READ_URL) when it has replayed every change
// this instance has been told of, else on the primary. A replica lags, and a read of it after a
// change was applied to the cache (an invalidation) could refill the cache with the value before
// the change, kept until the next one. So each change notification raises the WAL position the
// replica must have replayed, before it counts as applied (a write is acknowledged only after
// that: cache/peers.ts): the primary's position read once the notification arrived, after the
// commit (see caughtUp). A read finding the replica behind polls pg_last_wal_replay_lsn() for at
// most REPLICA_MAX_WAIT_MS, then goes to the primary. So do the reads of a write request (its own
// read-after-write), every read while change notifications are not being followed, and a read the
// replica fails (down, unreachable, a recovery conflict). The replay position is asked on any
// connection of the pool: DATABASE_READ_URL must lead to one replica, not a balancer over several.
import { AsyncLocalStorage } from 'node:async_hooks'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import { connectionFailure, DatabaseUnavailable, poolWaitTimeout } from '../errors.js'
import { newTiming, observe, type Timing } from '../cache/metrics.js'
import type { WalPosition } from './change-listener.js'
import { parseLsn, recordEnd } from './lsn.js'
import type { Statement } from './statement.js'
import type { DbHealth } from './pool-health.js'

/** What the repositories read through: a pg pool, or the read pool. */
export interface Queryable {
  query: <R extends pg.QueryResultRow = any>(statement: Statement, values?: unknown[]) => Promise<pg.QueryResult<R>>
}

/** Where a read went: the replica, or the primary and why. */
export type ReadOutcome = 'replica' | 'lag' | 'replica_down' | 'write_request' | 'unsynced'
export const READ_OUTCOMES: readonly ReadOutcome[] = ['replica', 'lag', 'replica_down', 'write_request', 'unsynced']

/** Where the required WAL position comes from: the change listener, a direct session to the primary. */
export interface ChangeSource {
  /** The primary's WAL positions now, and its WAL page size. */
  walPosition: () => Promise<WalPosition>
  /** Change notifications are being received. */
  listening: () => boolean
  /** The position could not be read: reconnect (and call resync once listening again). */
  restart: (reason: string) => void
}

export interface ReadPoolOptions {
  primary: pg.Pool
  /** The replica's pool and health; undefined without DATABASE_READ_URL. */
  replica?: { pool: pg.Pool, health: DbHealth }
  /** How long a read waits for a lagging replica before it goes to the primary; 0: never waits. */
  maxWaitMs: number
  pollMs?: number
}

export interface ReadPool extends Queryable {
  readonly replicated: boolean
  /** Runs `work` (a write request) with each of its reads on the primary. */
  onPrimary: <T>(work: () => T) => T
  /**
   * From now on, reads of the replica wait for the changes `source` delivers. Never called
   * (CACHE=off): reads go to the replica however far behind it is.
   */
  follow: (source: ChangeSource) => void
  /** Notifications (re)started: reads go to the primary until the primary's position now is required. */
  resync: () => Promise<void>
  /**
   * A change was delivered: resolves once the replica is required to have replayed its commit.
   * `async`: the writer's commit was asynchronous (not flushed when it was delivered). Never fails.
   */
  caughtUp: (async: boolean) => Promise<void>
  /** Reads by outcome, and how long reads waited for the replica to catch up. */
  stats: () => { reads: Record<ReadOutcome, number>, waits: Timing }
}

// 40001: a standby cancels a query that conflicts with replay; the primary has no such conflict.
const replicaFailure = (err: { code?: unknown, message?: string }) =>
  err instanceof DatabaseUnavailable || connectionFailure(err) || poolWaitTimeout(err) || err.code === '40001' ||
  (typeof err.code === 'string' && err.code.startsWith('53'))

export function createReadPool ({ primary, replica, maxWaitMs, pollMs = 5 }: ReadPoolOptions): ReadPool {
  const reads = Object.fromEntries(READ_OUTCOMES.map(o => [o, 0])) as Record<ReadOutcome, number>
  const waits = newTiming()
  const stats = () => ({ reads: { ...reads }, waits: { ...waits, counts: [...waits.counts] } })
  if (replica === undefined) {
    // Looked up at each call: a test may wrap the pool's query.
    return {
      replicated: false,
      query: (statement, values) => primary.query(statement, values),
      onPrimary: work => work(),
      follow: () => {},
      resync: async () => {},
      caughtUp: async () => {},
      stats
    }
  }

  const { pool: replicaPool, health: replicaHealth } = replica
  const writeRequest = new AsyncLocalStorage<boolean>()
  let source: ChangeSource | undefined
  let required = 0n // the replica must have replayed this far (a record's end)
  let replayed = 0n // it had, when last asked
  let synced = false // required covers every commit before notifications (re)started
  let session = 0
  // The position read in flight, and the one to send once it is back: a read sent before a
  // notification arrived may predate its commit, so that notification waits for the next one.
  let sent: Promise<WalPosition | undefined> | undefined
  let queued: Promise<WalPosition | undefined> | undefined
  let polling: Promise<bigint> | undefined

  function requirePosition (lsn: string, blockSize: number): void {
    const end = recordEnd(parseLsn(lsn), blockSize)
    if (end > required) required = end
  }

  /** Reads the primary's positions; undefined if it could not. */
  function readPosition (active: ChangeSource): Promise<WalPosition | undefined> {
    const mine = session
    const read = active.walPosition().catch((err: Error) => {
      // Without it, reads of the replica could miss this change: the primary until resynced.
      if (mine === session) {
        synced = false
        active.restart(`could not read the primary's WAL position: ${err.message}`)
      }
      return undefined
    })
    sent = read
    read.finally(() => { if (sent === read) sent = undefined }).catch(() => {})
    return read
  }

  /** The primary's positions, read after this call (undefined if they could not be). */
  async function position (active: ChangeSource): Promise<WalPosition | undefined> {
    if (sent === undefined) return readPosition(active)
    queued ??= sent.then(() => {
      queued = undefined
      return readPosition(active)
    })
    return queued
  }

  // Polls share one query: a position read earlier is only ever lower than the replica's now.
  function replayPosition (): Promise<bigint> {
    polling ??= replicaPool.query<{ lsn: string }>(
      // A server that is not a standby (a primary given as DATABASE_READ_URL) has everything.
      'SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text AS lsn'
    ).then(({ rows }) => {
      const lsn = parseLsn(rows[0]?.lsn ?? '0/0')
      if (lsn > replayed) replayed = lsn
      return replayed
    }).finally(() => { polling = undefined })
    return polling
  }

  /** Waits (bounded) for the replica to replay `target`: where the read goes. */
  async function reach (target: bigint): Promise<ReadOutcome> {
    if (maxWaitMs === 0) return 'lag'
    const began = performance.now()
    const outcome = await (async (): Promise<ReadOutcome> => {
      for (;;) {
        try {
          if (await replayPosition() >= target) return 'replica'
        } catch {
          return 'replica_down'
        }
        const left = maxWaitMs - (performance.now() - began)
        if (left <= 0) return 'lag'
        await sleep(Math.min(pollMs, left))
      }
    })()
    observe(waits, (performance.now() - began) / 1000)
    return outcome
  }

  async function route (): Promise<ReadOutcome> {
    if (writeRequest.getStore() === true) return 'write_request'
    if (!replicaHealth.up) return 'replica_down'
    if (source === undefined) return 'replica'
    if (!synced || !source.listening()) return 'unsynced'
    const target = required
    return replayed >= target ? 'replica' : await reach(target)
  }

  return {
    replicated: true,
    async query (statement, values) {
      const outcome = await route()
      if (outcome === 'replica') {
        try {
          const result = await replicaPool.query(statement, values)
          reads.replica++
          return result
        } catch (err) {
          if (!replicaFailure(err as Error)) throw err
          reads.replica_down++
        }
      } else {
        reads[outcome]++
      }
      return await primary.query(statement, values)
    },
    onPrimary: work => writeRequest.run(true, work),
    follow (changes) {
      source = changes
    },
    async resync () {
      if (source === undefined) return
      const mine = ++session
      synced = false
      // Queued behind a read sent on the previous session, if any: this one follows LISTEN. The
      // insert position: commits made before may have been asynchronous.
      const now = await position(source)
      if (now === undefined || mine !== session) return
      requirePosition(now.insert, now.blockSize)
      synced = true
    },
    async caughtUp (async) {
      if (source === undefined) return
      const now = await position(source)
      // A synchronous commit was flushed before its notification was sent: the flush position
      // covers it, without the WAL written since (the peers' notifications, for one, commit
      // asynchronously), which the replica cannot have before it is flushed.
      if (now !== undefined) requirePosition(async ? now.insert : now.flush, now.blockSize)
    },
    stats
  }
}
