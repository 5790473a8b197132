import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { deadline } from '../lib/deadline.js'

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
 * An instance that went away without a bye is dropped when it first fails to confirm a write, and
 * is not waited for again until it is heard from, whatever pg_stat_activity still lists (a crashed
 * instance's backend can linger). Membership is rebuilt, not added to, each time this instance
 * (re)joins: an instance that left while this one was not listening (its bye unheard) is gone.
 * Deadlines are judged only after this process has read its sockets (lib/deadline.ts): an ack that
 * arrived while this process was stalled is not a silent instance.
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

/** Remembers at most `max` ids (the oldest forgotten first): instance ids are never reused. */
function boundedSet (max: number) {
  const ids = new Set<string>()
  return {
    has: (id: string) => ids.has(id),
    add (id: string): void {
      ids.delete(id)
      ids.add(id)
      if (ids.size > max) ids.delete(ids.values().next().value as string)
    },
    delete: (id: string) => ids.delete(id)
  }
}

/** What became of one barrier for a write waiting on it. */
type Outcome = 'done' | 'restarted'

export function createPeers (options: PeersOptions) {
  const { send, log } = options
  const retryMs = options.retryMs ?? 1000
  const ownTimeoutMs = Math.max(options.ownTimeoutMs ?? Math.max(1000, 4 * options.timeoutMs), options.timeoutMs)
  const self = randomUUID()
  const members = new Set<string>()
  // Instances that said bye: a late message of theirs (an ack posted just after the bye) or their
  // backend still listed by pg_stat_activity never makes them members again.
  const left = boundedSet(1000)
  // Instances dropped for not confirming a write in time: not waited for again, rediscovered or
  // not, until a message of theirs shows them live.
  const silent = boundedSet(1000)
  // Heard from since LISTEN last (re)started, before joining: live on this session.
  let heardNow = new Set<string>()
  const barriers = new Map<string, Barrier>()
  let next: Barrier | undefined // not sent yet: writes that commit now join it
  let sending = false
  let seq = 0
  let connection = 0 // LISTEN (re)starts
  let joined = false // this instance's hello of the current connection came back
  let joinedWaiters: Array<() => void> = []
  let closed = false
  // Resolved when LISTEN restarts: a barrier sent on the previous session may never come back,
  // nor the acks sent while this instance was not listening. Its writes then use a new barrier.
  let restarted!: () => void
  let sessionEnded = new Promise<void>(resolve => { restarted = resolve })

  const post = (message: Message) => send(JSON.stringify(message))
  let timeouts = 0
  function heard (id: string): void {
    if (id === self || left.has(id)) return
    heardNow.add(id)
    silent.delete(id)
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
    // Rebuilt from what is live now: the members of before this session may have left unheard.
    const live = new Set([...found, ...heardNow].filter(id => id !== self && !left.has(id) && !silent.has(id)))
    for (const id of members) {
      if (!live.has(id)) log.info({ instance: id }, 'another instance of the service is gone (its LISTEN session is)')
    }
    for (const id of live) {
      if (!members.has(id)) log.info({ instance: id }, 'another instance of the service is live on this database')
    }
    members.clear()
    for (const id of live) members.add(id)
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
    // One of ours that no write waits for any more (sent on a session since restarted).
    if (id.startsWith(`${self}:`) && !barriers.has(id)) return
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
    // Not after the bye: the others would take this instance for live again.
    options.applied()
      .then(() => closed ? undefined : post({ ack: id, from: self }))
      .catch(err => log.warn({ err }, 'could not confirm a write of another instance'))
  }

  /** Resolves at the next join (not a current one: `joined` is not reset when a session is lost), or after `ms`. */
  async function nextJoin (ms: number): Promise<void> {
    if (ms <= 0) return
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>(resolve => {
      joinedWaiters.push(resolve)
      timer = setTimeout(resolve, ms)
    })
    clearTimeout(timer)
  }

  /** Waits for a barrier sent on LISTEN session `conn`, and acts (once) on its timeout or failure. */
  async function awaitBarrier (barrier: Barrier, conn: number): Promise<Outcome> {
    const ended = sessionEnded
    const race = async (events: Array<Promise<void>>, ms: number) => {
      const { passed, cancel } = deadline(ms)
      try {
        await Promise.race([...events, ended, passed])
      } finally {
        cancel()
      }
    }
    // Whatever happened on a session that has since restarted says nothing about the new one:
    // neither a timeout of the others nor a reason to restart it.
    const gone = () => conn !== connection || !options.listening()
    await race([barrier.confirmed, barrier.failed], options.timeoutMs)
    if (barrier.settled) return 'done'
    if (gone()) return 'restarted'
    if (!barrier.applied && barrier.failure === undefined) {
      await race([barrier.ownApplied, barrier.failed], ownTimeoutMs - options.timeoutMs)
      if (barrier.settled) return 'done'
      if (gone()) return 'restarted'
    }
    if (barrier.handled) return barrier.failure === undefined ? 'done' : 'restarted'
    barrier.handled = true
    if (!barrier.applied) {
      const reason = barrier.failure === undefined
        ? `a write's own barrier did not come back within ${ownTimeoutMs} ms`
        : `a write's barrier could not be sent: ${barrier.failure.message}`
      log.warn({ err: barrier.failure, ownTimeoutMs }, 'this instance\'s change notifications are not arriving; restarting LISTEN (cache unused until it is back)')
      options.restartListening(reason)
      // A barrier that could not be sent is sent again on the new session; one that did not come
      // back took ownTimeoutMs already.
      return barrier.failure === undefined ? 'done' : 'restarted'
    }
    timeouts++
    const missing = [...barrier.members ?? []].filter(m => !barrier.acks.has(m))
    for (const m of missing) {
      members.delete(m)
      silent.add(m)
    }
    log.warn({ missing, timeoutMs: options.timeoutMs },
      'other instances did not confirm a write in time; not waiting for them until they are heard from again')
    return 'done'
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
      heardNow = new Set()
      restarted()
      sessionEnded = new Promise<void>(resolve => { restarted = resolve })
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
        left.add(message.bye)
        silent.delete(message.bye)
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
      // A write waits for one barrier per LISTEN session: if the session restarts meanwhile, its
      // barrier (or the acks to it) may be lost with it, so the write goes on with a barrier on the
      // new session once this instance has rejoined; none is begun past ownTimeoutMs.
      const giveUpAt = performance.now() + ownTimeoutMs
      for (let round = 0; ; round++) {
        if (closed) return
        if (!joined || !options.listening()) {
          // Not listening when the write committed: the cache is bypassed until LISTEN is back and
          // flushed, and there is no session to confirm it on.
          if (round === 0 && !options.listening()) return
          await nextJoin(giveUpAt - performance.now())
          if (closed || !joined || !options.listening()) return
        }
        const barrier = next ?? (next = newBarrier())
        barrier.waiters++
        sendNext()
        let outcome: Outcome
        try {
          outcome = await awaitBarrier(barrier, connection)
        } finally {
          if (--barrier.waiters === 0) barriers.delete(barrier.id)
        }
        if (outcome === 'done' || performance.now() >= giveUpAt) return
      }
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
