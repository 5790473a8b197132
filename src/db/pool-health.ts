// Whether PostgreSQL answers, as the pool sees it. It goes down when a new connection cannot be
// made, when a query gets no answer within the client's deadline, or when no pooled connection
// comes free for a whole connect timeout; one warn line then, one info line when it is back. While
// down every connection is refused at once (no request waits out a timeout), and a probe
// connection every second finds out when it answers again.
import type { FastifyBaseLogger } from 'fastify'
import { connectionFailure, DatabaseUnavailable, poolWaitTimeout } from '../errors.js'

export interface DbHealth {
  readonly up: boolean
  /** When PostgreSQL stopped answering; undefined while it answers. */
  readonly downSince: Date | undefined
  /** Why it was declared down (the first failure). */
  readonly reason: string | undefined
  /** Requests answered 503 since it went down. */
  readonly refused: number
  /** A request was answered 503 for a PostgreSQL failure: true if that is part of an outage already logged (then counted). */
  refuse: () => boolean
}

interface Releasable { release: (err?: Error) => void }

export interface PoolGuard extends DbHealth {
  /** `connect` (the pool's own), refused at once while down; a connection made before the last outage is dropped, not handed out. */
  acquire: <C extends Releasable>(connect: () => Promise<C>) => Promise<C>
  /** The pool made a new connection. */
  connected: (client: object) => void
  /** A client went back to the pool, `err` if its user saw one (pool.query passes null for none). */
  released: (err: Error | null | undefined) => void
  close: () => void
}

export interface PoolGuardOptions {
  log: FastifyBaseLogger
  connectTimeoutMs: number
  queryTimeoutMs: number
  /** A fresh connection and a trivial query: undefined when PostgreSQL answered, else why not. */
  probe: () => Promise<Error | undefined>
  probeIntervalMs?: number
}

// Probes in flight at once at most (each ends within its connect and query timeouts).
const MAX_PROBES = 3

/** Why a connection made before the last outage is closed instead of used (it may be silently dead). */
class StaleConnection extends Error {}

export function createPoolGuard ({ log, connectTimeoutMs, queryTimeoutMs, probe, probeIntervalMs = 1000 }: PoolGuardOptions): PoolGuard {
  let downSince: number | undefined
  let reason: string | undefined
  let refused = 0
  // Connections are tagged with the outage count when made: older ones went through the outage.
  let outages = 0
  const madeDuring = new WeakMap<object, number>()
  // The last time a pooled connection did something: none in a whole connect timeout means stalled.
  let lastProgress = Date.now()
  let timer: NodeJS.Timeout | undefined
  let probing = 0
  let closed = false

  function down (why: string): void {
    if (downSince !== undefined || closed) return
    downSince = Date.now()
    reason = why
    refused = 0
    outages++
    log.warn({ reason: why }, 'PostgreSQL unavailable: refusing the requests that need it until it answers again')
    // At once (a single broken connection is not an outage, and this ends it in one round trip),
    // then every interval, even while earlier probes still wait out their timeouts: the service
    // answers again within about an interval of PostgreSQL doing so.
    probeOnce()
    timer = setInterval(probeOnce, probeIntervalMs)
    timer.unref()
  }

  function up (): void {
    if (downSince === undefined) return
    clearInterval(timer)
    log.info({ downMs: Date.now() - downSince, refused, reason }, 'PostgreSQL reachable again')
    downSince = undefined
    reason = undefined
    lastProgress = Date.now()
  }

  function probeOnce (): void {
    if (probing >= MAX_PROBES) return
    probing++
    const outage = outages
    probe().then(failure => {
      probing--
      // A late answer to a probe of an earlier outage says nothing about this one.
      if (closed || outage !== outages) return
      if (failure === undefined) up()
      else log.debug({ reason: failure.message }, 'PostgreSQL still unavailable')
    }, () => { probing-- })
  }

  function failedToConnect (err: Error): void {
    if (poolWaitTimeout(err)) {
      // Every connection busy for the whole wait: overload if some finished meanwhile, else a
      // database that stopped answering (their queries will hit the deadline later).
      const idleMs = Date.now() - lastProgress
      if (idleMs >= connectTimeoutMs) down(`no pooled connection came free for ${idleMs} ms`)
    } else if (connectionFailure(err)) {
      down(err.message || String((err as { code?: unknown }).code))
    }
  }

  return {
    get up () { return downSince === undefined },
    get downSince () { return downSince === undefined ? undefined : new Date(downSince) },
    get reason () { return reason },
    get refused () { return refused },
    refuse () {
      if (downSince === undefined) return false
      refused++
      return true
    },
    async acquire (connect) {
      for (;;) {
        if (downSince !== undefined) throw new DatabaseUnavailable()
        let client
        try {
          client = await connect()
        } catch (err) {
          failedToConnect(err as Error)
          throw err
        }
        if (madeDuring.get(client) === outages) return client
        client.release(new StaleConnection('made before PostgreSQL last went away'))
      }
    },
    connected (client) {
      madeDuring.set(client, outages)
      lastProgress = Date.now()
    },
    released (err) {
      if (err == null || err instanceof StaleConnection) {
        lastProgress = Date.now()
      } else if (err.message === 'Query read timeout') {
        down(`no answer to a query within ${queryTimeoutMs} ms`)
      } else if (!connectionFailure(err)) {
        lastProgress = Date.now()
      }
    },
    close () {
      closed = true
      clearInterval(timer)
    }
  }
}
