import { randomUUID } from 'node:crypto'

/**
 * Instances of the service on one database tell each other, over PostgreSQL notifications on this
 * channel, that they have applied every change committed before a write: a write through one
 * instance is acknowledged only once every other live instance's in-process tier has dropped
 * what it changed, so no instance can answer stale after the 2xx.
 *
 * It rests on PostgreSQL's ordering guarantee: notifications of different transactions reach
 * every listener in commit order, whatever their channel. So when an instance receives a barrier
 * committed after a write, it has already received the write's change notification.
 *
 *   {"hello":"<instance>","n":3}   LISTEN (re)started. Once its own hello came back, an instance
 *                                  learns which others are live (their LISTEN sessions, from
 *                                  pg_stat_activity) and serves from its cache again; the others
 *                                  add it when they receive its hello.
 *   {"bye":"<instance>"}           shutting down
 *   {"barrier":"<instance>:<seq>"} sent after a write committed
 *   {"ack":"<instance>:<seq>","from":"<instance>"}  every change received before that barrier is applied
 *
 * An instance that went away without a bye is dropped when it first fails to confirm a write.
 */
export const PEERS_CHANNEL = 'gravity_peers'

type LogFn = (obj: object, msg: string) => void

export interface PeersOptions {
  /** Sends a payload on PEERS_CHANNEL; it is delivered when its (own) transaction commits. */
  send: (payload: string) => Promise<void>
  /** Resolves once every change notification received so far has been applied to this instance. */
  applied: () => Promise<void>
  /** The instances whose LISTEN session is open now (this one included). */
  discover: () => Promise<string[]>
  /** Change notifications are being received (LISTEN active). */
  listening: () => boolean
  /** How long a write waits for the other instances to confirm. */
  timeoutMs: number
  /**
   * How long a write waits for its own barrier to come back through this instance's LISTEN
   * session: past it, the session is not delivering and is restarted (which drops the cache until
   * LISTEN is back). Generous, so a busy event loop is not taken for a dead session. Default
   * max(1000, 4 x timeoutMs).
   */
  ownTimeoutMs?: number
  /** Drops this instance's LISTEN session (it reconnects, and the cache is flushed before use). */
  restartListening: (reason: string) => void
  /** Retry interval of a hello that could not be sent or answered. Default 1000. */
  retryMs?: number
  log: { info: LogFn, warn: LogFn }
}

/**
 * One barrier confirms every write through this instance that committed before it was sent:
 * writes arriving while one is on its way share the next, so a burst of writes costs two round
 * trips on the LISTEN session, not one each in a queue.
 */
interface Barrier {
  id: string
  /** The other instances live when this instance received its own barrier: the ones to wait for. */
  members?: Set<string>
  /** Every change received before its own barrier has been applied by this instance. */
  applied: boolean
  acks: Set<string>
  settled: boolean
  /** It could not be sent. */
  failure?: Error
  /** Writes waiting for it. */
  waiters: number
  /** A timeout or failure of it has been acted on (once, for all its writes). */
  handled: boolean
  confirmed: Promise<void>
  ownApplied: Promise<void>
  failed: Promise<void>
  done: () => void
  ownDone: () => void
  fail: (err: Error) => void
}

interface Message { hello?: string, n?: number, bye?: string, barrier?: string, ack?: string, from?: string }

export function createPeers (options: PeersOptions) {
  const { send, log } = options
  const retryMs = options.retryMs ?? 1000
  const ownTimeoutMs = Math.max(options.ownTimeoutMs ?? Math.max(1000, 4 * options.timeoutMs), options.timeoutMs)
  const self = randomUUID()
  const members = new Set<string>()
  const barriers = new Map<string, Barrier>()
  let next: Barrier | undefined // not sent yet: writes that commit now join it
  let sending = false
  let seq = 0
  let connection = 0 // LISTEN (re)starts
  let joined = false // this instance's hello of the current connection came back
  let joinedWaiters: Array<() => void> = []
  let closed = false

  const post = (message: Message) => send(JSON.stringify(message))
  let timeouts = 0
  function heard (id: string): void {
    if (id === self) return
    if (!members.has(id)) log.info({ instance: id }, 'another instance of the service is live on this database')
    members.add(id)
  }

  function check (barrier: Barrier): void {
    if (barrier.applied && barrier.members !== undefined && [...barrier.members].every(id => barrier.acks.has(id))) barrier.done()
  }

  function hello (): void {
    post({ hello: self, n: connection }).catch(err => log.warn({ err }, 'could not announce this instance to the others; retrying'))
  }

  // Until this instance has joined, its hello is repeated (it may not have been sent, or its
  // answer may have failed).
  const retry = setInterval(() => {
    if (!joined && !closed && options.listening()) hello()
  }, retryMs)
  retry.unref()

  async function join (n: number): Promise<void> {
    const found = await options.discover()
    if (n !== connection || joined) return
    for (const id of found) heard(id)
    joined = true
    for (const resolve of joinedWaiters) resolve()
    joinedWaiters = []
  }

  function newBarrier (): Barrier {
    let confirm!: () => void
    let ownDone!: () => void
    let fail!: () => void
    const confirmed = new Promise<void>(resolve => { confirm = resolve })
    const ownApplied = new Promise<void>(resolve => { ownDone = resolve })
    const failed = new Promise<void>(resolve => { fail = resolve })
    const barrier: Barrier = {
      id: `${self}:${++seq}`,
      acks: new Set(),
      applied: false,
      settled: false,
      waiters: 0,
      handled: false,
      confirmed,
      ownApplied,
      failed,
      done: () => { barrier.settled = true; confirm() },
      ownDone,
      fail: err => { barrier.failure = err; fail() }
    }
    barriers.set(barrier.id, barrier)
    return barrier
  }

  // One barrier on its way at a time; the writes that committed meanwhile share the next one.
  function sendNext (): void {
    if (sending || next === undefined) return
    const barrier = next
    next = undefined
    sending = true
    post({ barrier: barrier.id })
      .catch((err: Error) => barrier.fail(err))
      .finally(() => {
        sending = false
        sendNext()
      })
  }

  function onBarrier (id: string): void {
    const own = barriers.get(id)
    if (own !== undefined) {
      own.members = new Set(members)
      // The write's own change notification arrived before its barrier (commit order): once it is
      // applied here, this instance serves the write's result.
      options.applied().then(() => {
        own.applied = true
        own.ownDone()
        check(own)
      }).catch(() => {})
      return
    }
    options.applied()
      .then(() => post({ ack: id, from: self }))
      .catch(err => log.warn({ err }, 'could not confirm a write of another instance'))
  }

  return {
    /** This instance, in messages and logs. */
    id: self,

    /** The other instances known to be live: a write waits for each of them. */
    others: (): string[] => [...members],

    /** Barriers (each confirming the writes that committed before it) that stopped waiting for an instance that did not confirm in time. */
    get timeouts () { return timeouts },

    /** Its own announcement came back since LISTEN last (re)started: it knows every change from then on. */
    get joined () { return joined },

    /** LISTEN (re)started: announce, and stay un-joined until the announcement comes back. */
    listening (): void {
      connection++
      joined = false
      hello()
    },

    /** Resolves once joined, or after `ms`. */
    async waitJoined (ms: number): Promise<void> {
      if (joined) return
      let timer: NodeJS.Timeout | undefined
      await new Promise<void>(resolve => {
        joinedWaiters.push(resolve)
        timer = setTimeout(resolve, ms)
      })
      clearTimeout(timer)
    },

    /** A notification on PEERS_CHANNEL. */
    receive (payload: string): void {
      let message: Message
      try {
        message = JSON.parse(payload) as Message
      } catch {
        return
      }
      if (typeof message !== 'object' || message === null) return
      if (typeof message.hello === 'string' && Number.isSafeInteger(message.n)) {
        if (message.hello !== self) return heard(message.hello)
        if (message.n === connection && !joined) {
          join(connection).catch(err => log.warn({ err }, 'could not list the other instances; retrying'))
        }
      } else if (typeof message.bye === 'string') {
        if (members.delete(message.bye)) log.info({ instance: message.bye }, 'another instance of the service left')
        for (const barrier of barriers.values()) {
          barrier.members?.delete(message.bye)
          check(barrier)
        }
      } else if (typeof message.barrier === 'string') {
        onBarrier(message.barrier)
      } else if (typeof message.ack === 'string' && typeof message.from === 'string') {
        heard(message.from)
        const barrier = barriers.get(message.ack)
        if (barrier !== undefined) {
          barrier.acks.add(message.from)
          check(barrier)
        }
      }
    },

    /**
     * After a write through this instance committed: waits until its change notification (and
     * every one before it) has been applied by this instance and by every other live instance.
     * Never fails: an instance that does not answer within timeoutMs is no longer waited for
     * until it is heard from again; if this instance's own LISTEN session does not bring the
     * barrier back within ownTimeoutMs, or cannot send it, the session is restarted (the cache is
     * not used until it is back and flushed), so nothing stale is served after the write returns.
     */
    async settle (): Promise<void> {
      if (closed || !options.listening()) return
      const barrier = next ?? (next = newBarrier())
      barrier.waiters++
      sendNext()
      const timers: NodeJS.Timeout[] = []
      const after = (ms: number) => new Promise<void>(resolve => { timers.push(setTimeout(resolve, ms)) })
      try {
        await Promise.race([barrier.confirmed, barrier.failed, after(options.timeoutMs)])
        if (!barrier.settled && !barrier.applied && barrier.failure === undefined) {
          await Promise.race([barrier.ownApplied, barrier.failed, after(ownTimeoutMs - options.timeoutMs)])
        }
      } finally {
        for (const timer of timers) clearTimeout(timer)
        if (--barrier.waiters === 0) barriers.delete(barrier.id)
      }
      if (barrier.settled || barrier.handled) return
      barrier.handled = true
      if (!barrier.applied) {
        const reason = barrier.failure === undefined
          ? `a write's own barrier did not come back within ${ownTimeoutMs} ms`
          : `a write's barrier could not be sent: ${barrier.failure.message}`
        log.warn({ err: barrier.failure, ownTimeoutMs }, 'this instance\'s change notifications are not arriving; restarting LISTEN (cache unused until it is back)')
        options.restartListening(reason)
        return
      }
      timeouts++
      const missing = [...barrier.members ?? []].filter(m => !barrier.acks.has(m))
      for (const m of missing) members.delete(m)
      log.warn({ missing, timeoutMs: options.timeoutMs },
        'other instances did not confirm a write in time; not waiting for them until they are heard from again')
    },

    /** Tells the others not to wait for this instance any more. */
    async close (): Promise<void> {
      if (closed) return
      closed = true
      clearInterval(retry)
      for (const resolve of joinedWaiters) resolve()
      if (options.listening()) await post({ bye: self }).catch(() => {})
    }
  }
}

export type Peers = ReturnType<typeof createPeers>
