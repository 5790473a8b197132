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
  /** Retry interval of a hello that could not be sent or answered. Default 1000. */
  retryMs?: number
  log: { info: LogFn, warn: LogFn }
}

interface Barrier {
  /** The other instances live when this instance received its own barrier: the ones to wait for. */
  members?: Set<string>
  acks: Set<string>
  done: () => void
}

interface Message { hello?: string, n?: number, bye?: string, barrier?: string, ack?: string, from?: string }

export function createPeers (options: PeersOptions) {
  const { send, log } = options
  const retryMs = options.retryMs ?? 1000
  const self = randomUUID()
  const members = new Set<string>()
  const barriers = new Map<string, Barrier>()
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
    if (barrier.members !== undefined && [...barrier.members].every(id => barrier.acks.has(id))) barrier.done()
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

  function onBarrier (id: string): void {
    const own = barriers.get(id)
    if (own !== undefined) {
      own.members = new Set(members)
      check(own)
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

    /** Writes that stopped waiting for an instance that did not confirm in time. */
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
     * After a write through this instance committed (and this instance invalidated what it
     * changed): waits until every other live instance has applied every change committed so far.
     * Never fails: an instance that does not answer within timeoutMs is no longer waited for
     * until it is heard from again.
     */
    async settle (): Promise<void> {
      if (closed || !options.listening()) return
      const id = `${self}:${++seq}`
      let timer: NodeJS.Timeout | undefined
      let settled = false
      const barrier: Barrier = { acks: new Set(), done: () => {} }
      const confirmed = new Promise<void>(resolve => { barrier.done = () => { settled = true; resolve() } })
      barriers.set(id, barrier)
      try {
        // The deadline covers sending too: a slow LISTEN session must not hold the write longer.
        const deadline = new Promise(resolve => { timer = setTimeout(resolve, options.timeoutMs) })
        const sent = post({ barrier: id }).then(() => confirmed)
        sent.catch(() => {}) // a failure after the deadline has nobody left to tell
        await Promise.race([sent, deadline])
      } catch (err) {
        log.warn({ err }, 'could not ask the other instances to confirm a write')
      } finally {
        clearTimeout(timer)
        barriers.delete(id)
      }
      if (settled) return
      timeouts++
      const missing = barrier.members === undefined ? [] : [...barrier.members].filter(m => !barrier.acks.has(m))
      for (const m of missing) members.delete(m)
      log.warn({ missing, timeoutMs: options.timeoutMs, ownBarrierSeen: barrier.members !== undefined },
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
