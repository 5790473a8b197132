// The server-side statement deadline (PG_STATEMENT_TIMEOUT_MS): a statement still running when it
// expires is cancelled with a cancel request, as psql's Ctrl-C does, so the server stops it and
// the connection stays usable. Not the `statement_timeout` startup parameter: a stock PgBouncer
// refuses every connection that sends one ("unsupported startup parameter"), and a SET would be
// session state leaking through a transaction pool. PgBouncer forwards cancel requests to the
// server connection running the statement, so this holds behind it as well as direct.
import { connect, type Socket } from 'node:net'
import type pg from 'pg'
import { observeQueries } from './observe-queries.js'

// What pg keeps of the running statement and of the backend's cancel key (set from BackendKeyData).
interface ClientInternals {
  // Read directly: pg 8.x's `activeQuery` getter prints a deprecation warning.
  _activeQuery?: unknown
  processID?: number | null
  secretKey?: number | null
  host: string
  port: number
}

const CANCEL_REQUEST_CODE = 80877102
const CANCEL_CONNECT_TIMEOUT_MS = 2000

/** Sends PostgreSQL's CancelRequest for the backend behind `client`; failures are the caller's deadline's to report. */
function sendCancel (client: ClientInternals): void {
  if (client.processID == null || client.secretKey == null) return
  const message = Buffer.alloc(16)
  message.writeInt32BE(16, 0)
  message.writeInt32BE(CANCEL_REQUEST_CODE, 4)
  message.writeInt32BE(client.processID, 8)
  message.writeInt32BE(client.secretKey, 12)
  const socket: Socket = client.host.startsWith('/')
    ? connect(`${client.host}/.s.PGSQL.${client.port}`)
    : connect(client.port, client.host)
  socket.setTimeout(CANCEL_CONNECT_TIMEOUT_MS, () => socket.destroy())
  // Nothing comes back: the server closes the connection once it has acted. Not closed from this
  // side first: PgBouncer drops a cancel request whose client has gone before it was forwarded.
  socket.on('error', () => socket.destroy())
  socket.on('end', () => socket.destroy())
  socket.on('connect', () => socket.write(message))
}

/** A cancelled statement's error says which deadline cancelled it, not "due to user request". */
function explain (err: unknown, deadlineMs: number): void {
  const error = err as { code?: string, message?: string } | null
  if (error?.code === '57014') error.message = `canceling statement: it ran past PG_STATEMENT_TIMEOUT_MS (${deadlineMs} ms)`
}

/** Every query of this connection (pool connections, as the pool opens them) is cancelled past `deadlineMs`. */
export function enforceStatementDeadline (client: pg.PoolClient, deadlineMs: number): void {
  if (deadlineMs <= 0) return
  const internals = client as unknown as ClientInternals
  observeQueries(client, () => {
    let cancelled = false
    let timer: NodeJS.Timeout | undefined
    return {
      sent () {
        const running = internals._activeQuery
        timer = setTimeout(() => {
          if (running == null || internals._activeQuery !== running) return
          cancelled = true
          sendCancel(internals)
        }, deadlineMs)
        timer.unref()
      },
      finished (err) {
        clearTimeout(timer)
        if (cancelled) explain(err, deadlineMs)
      }
    }
  })
}
