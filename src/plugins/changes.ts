// The change notifications this instance follows (its LISTEN session) and the peers it settles
// writes with: what the cache subscribes to. A change counts as applied once its subscriber's
// work is done, and with a read replica once the replica's required position covers it.
import fp from 'fastify-plugin'
import { directDatabaseUrl } from '../config.js'
import { createPeers, PEERS_CHANNEL, type Peers } from '../cache/peers.js'
import type { ChangeEvent } from '../db/change-events.js'
import { createChangeListener, LISTENER_APPLICATION_NAME, type ChangeListener } from '../db/change-listener.js'

const JOIN_TIMEOUT_MS = 5000

export interface ChangeSubscriber {
  /** A committed change, from any writer. */
  change: (event: ChangeEvent) => Promise<void>
  /** The session (re)started: changes made meanwhile were not received. */
  reset: (reason: string) => Promise<void>
}

export interface Changes {
  listener: ChangeListener
  peers: Peers
  /** The one subscriber (the cache); set before the app is ready, when listening starts. */
  subscribe: (subscriber: ChangeSubscriber) => void
  /** Notifications are received, none is being caught up on, and this instance has joined its peers. */
  readonly live: boolean
  /** Waits until every instance has applied the changes this instance's writes committed. */
  settle: () => Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The change feed, or null when CACHE=off (nothing to keep coherent). */
    changes: Changes | null
  }
}

export default fp(async app => {
  const { config, log } = app
  if (config.CACHE === 'off') {
    app.decorate('changes', null)
    return
  }
  // With a replica, reads wait for it to replay each change before the change counts as applied.
  const replicated = app.pgRead.replicated
  let subscriber: ChangeSubscriber | undefined
  let resetting: Promise<void> | undefined
  // Work on received notifications still running: a barrier of another instance is confirmed
  // once those received before it are done.
  const applying = new Set<Promise<void>>()
  const track = (work: Promise<void>) => {
    applying.add(work)
    work.finally(() => applying.delete(work)).catch(() => {})
  }

  const peers = createPeers({
    send: payload => listener.notify(PEERS_CHANNEL, payload),
    applied: async () => { await Promise.allSettled([...applying]) },
    discover: async () => {
      const { rows } = await app.pg.query<{ name: string }>(
        'SELECT application_name AS name FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE $1',
        [`${LISTENER_APPLICATION_NAME} %`])
      return rows.map(row => row.name.slice(LISTENER_APPLICATION_NAME.length + 1))
    },
    listening: () => listener.ready,
    timeoutMs: config.CACHE_PEER_TIMEOUT_MS,
    restartListening: reason => listener.restart(reason),
    log
  })

  async function apply (event: ChangeEvent): Promise<void> {
    // Before the subscriber drops anything: a miss that follows must not read a replica without the change.
    if (replicated) await app.pgRead.caughtUp(event.async === true)
    await subscriber?.change(event)
  }

  const listener: ChangeListener = createChangeListener({
    connectionString: directDatabaseUrl(config),
    applicationName: `${LISTENER_APPLICATION_NAME} ${peers.id}`,
    log,
    onChange: event => { track(apply(event).catch(err => log.error({ err, event }, 'change not applied'))) },
    onReset: reason => {
      log.info({ reason }, 'change notifications (re)started: catching up')
      resetting = (subscriber?.reset(reason) ?? Promise.resolve())
        .catch(err => log.warn({ err }, 'catching up after a restart of change notifications failed'))
        .then(() => { resetting = undefined })
      track(resetting)
    },
    onListening: () => {
      peers.listening()
      if (replicated) app.pgRead.resync().catch(() => {})
    },
    channels: { [PEERS_CHANNEL]: payload => peers.receive(payload) }
  })
  if (replicated) {
    app.pgRead.follow({
      walPosition: () => listener.walPosition(),
      listening: () => listener.ready,
      restart: reason => listener.restart(reason)
    })
  }

  app.decorate('changes', {
    listener,
    peers,
    subscribe (next: ChangeSubscriber) { subscriber = next },
    get live () { return listener.ready && resetting === undefined && peers.joined },
    settle: () => peers.settle()
  })
  // Listening starts once the subscriber is in place: the first (re)start's catch-up is its.
  app.addHook('onReady', async () => {
    await listener.start()
    // Serving from the cache waits for this instance's announcement to come back (see peers.ts).
    if (listener.ready) await peers.waitJoined(JOIN_TIMEOUT_MS)
  })
  app.addHook('onClose', async () => {
    await peers.close()
    await listener.stop()
  })
}, { name: 'changes', dependencies: ['config', 'db', 'read-db'] })
