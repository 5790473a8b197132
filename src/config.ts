import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import envSchema from 'env-schema'
import { Type, type Static } from 'typebox'
import { nonFinitePath } from './lib/non-finite.js'
import { parseTrustProxy, type TrustProxy } from './lib/trust-proxy.js'

const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { default: 'development' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  // Unset: every interface, but 127.0.0.1 with the embedded database (its demo accounts share a password).
  HOST: Type.Optional(Type.String({ minLength: 1 })),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  PG_POOL_MAX: Type.Integer({ minimum: 1, maximum: 500, default: 10 }),
  PG_QUERY_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 6000 }),
  PG_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 0, maximum: 600000, default: 5000 }),
  PG_CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 3000 }),
  SLOW_QUERY_MS: Type.Integer({ minimum: 0, maximum: 600000, default: 500 }),
  // off behind a transaction-pooling PgBouncer without prepared statement support (before 1.21).
  PG_PREPARED_STATEMENTS: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
  PG_EMBEDDED_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 54329 }),
  DATABASE_LISTEN_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATABASE_READ_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  REPLICA_MAX_WAIT_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 50 }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REDIS_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', default: 'gravity' }),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ minimum: 1, maximum: 10000, default: 50 }),
  CACHE: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
  CACHE_TTL_SECONDS: Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600, default: 600 }),
  CACHE_HOT_MAX_ENTRIES: Type.Integer({ minimum: 0, maximum: 10000000, default: 20000 }),
  CACHE_HOT_MAX_BYTES: Type.Integer({ minimum: 0, default: 64 * 1024 * 1024 }),
  CACHE_PEER_TIMEOUT_MS: Type.Integer({ minimum: 1, maximum: 60000, default: 250 }),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  JWT_EXPIRES_IN: Type.String({ pattern: '^[1-9][0-9]*(ms|s|m|h|d)?$', default: '7d' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map(l => Type.Literal(l)), { default: 'info' }),
  CORS_ORIGIN: Type.String({ minLength: 1, default: '*' }),
  BODY_LIMIT: Type.Integer({ minimum: 1024, default: 1048576 }),
  METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 9464 }),
  METRICS_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  SHED_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 1000 }),
  SHED_HEAP_USED_BYTES: Type.Optional(Type.Integer({ minimum: 0 })),
  SHUTDOWN_DELAY_MS: Type.Integer({ minimum: 0, maximum: 600000, default: 0 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600000, default: 10000 }),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 0, maximum: 1e9, default: 600 }),
  AUTH_RATE_LIMIT_MAX: Type.Integer({ minimum: 0, maximum: 1e9, default: 10 }),
  WRITE_RATE_LIMIT_MAX: Type.Integer({ minimum: 0, maximum: 1e9, default: 60 }),
  TRUST_PROXY: Type.String({ minLength: 1, default: 'false' }),
  // Anonymous reads may be kept this long by browsers and shared caches, then served stale while
  // revalidated (If-None-Match) for as long again as the second; 0 max-age: revalidate every time.
  PUBLIC_MAX_AGE_SECONDS: Type.Integer({ minimum: 0, maximum: 86400, default: 5 }),
  PUBLIC_STALE_WHILE_REVALIDATE_SECONDS: Type.Integer({ minimum: 0, maximum: 86400, default: 15 }),
  // Responses at least this large are compressed (br, gzip); 0: none.
  COMPRESS_MIN_BYTES: Type.Integer({ minimum: 0, maximum: 100 * 1024 * 1024, default: 1024 }),
  DOCS: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
  // off: migrations are applied by a step of the deployment of its own (npm run migrate, a Job or
  // an init container on a direct connection), not by every instance at start.
  MIGRATE_ON_START: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
  // Either endpoint turns tracing on; the SDK reads them, and every other OTEL_* variable, itself.
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://' })),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://' })),
  OTEL_SDK_DISABLED: Type.Boolean({ default: false })
})

type RawConfig = Static<typeof ConfigSchema>

/** Every variable the service reads (deployment files are checked against it). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(ConfigSchema.properties)
export type Config = RawConfig & {
  JWT_SECRET: string
  /** true when JWT_SECRET was generated for this process (dev only) */
  jwtSecretGenerated: boolean
  /** NODE_ENV was set (to anything): a deployment, not a developer's terminal */
  nodeEnvSet: boolean
  /** TRUST_PROXY as Fastify's trustProxy takes it */
  trustProxy: TrustProxy
}

export class ConfigError extends Error {}

/** Parses and validates the environment once; throws ConfigError with one line naming the variable. */
export function loadConfig (env?: Record<string, string | undefined>): Config {
  if (env === undefined) {
    // A .env file fills in what the real environment leaves unset (it never overrides).
    if (existsSync('.env')) process.loadEnvFile('.env')
    env = process.env
  }
  // An empty value (`DATABASE_URL=`) means unset, as shells and .env files commonly write it.
  const data = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  let raw: RawConfig
  try {
    raw = envSchema<RawConfig>({ schema: ConfigSchema, data, env: false, dotenv: false })
  } catch (err) {
    throw new ConfigError(describe(err as Error))
  }
  // Ajv turns "Infinity" and "1e999" into numbers its range checks let through.
  const infinite = nonFinitePath(raw)
  if (infinite !== undefined) throw new ConfigError(`${infinite.slice(1)} must be a finite number`)
  let trustProxy: TrustProxy
  try {
    trustProxy = parseTrustProxy(raw.TRUST_PROXY)
  } catch (err) {
    throw new ConfigError(`TRUST_PROXY ${(err as Error).message}`)
  }
  // The server cancels a slow statement and the connection stays usable; the client's deadline
  // is for a server that does not answer at all, so it must not fire first.
  if (raw.PG_STATEMENT_TIMEOUT_MS > 0 && raw.PG_QUERY_TIMEOUT_MS <= raw.PG_STATEMENT_TIMEOUT_MS) {
    throw new ConfigError(`PG_QUERY_TIMEOUT_MS (${raw.PG_QUERY_TIMEOUT_MS}) must be greater than PG_STATEMENT_TIMEOUT_MS (${raw.PG_STATEMENT_TIMEOUT_MS})`)
  }
  if (raw.JWT_SECRET === undefined && raw.NODE_ENV === 'production') {
    throw new ConfigError('JWT_SECRET is required when NODE_ENV=production (at least 32 characters)')
  }
  return {
    ...raw,
    JWT_SECRET: raw.JWT_SECRET ?? randomBytes(32).toString('base64url'),
    jwtSecretGenerated: raw.JWT_SECRET === undefined,
    nodeEnvSet: data.NODE_ENV !== undefined,
    trustProxy
  }
}

/**
 * A direct session to PostgreSQL, for what a transaction pooler (PgBouncer) cannot carry across
 * statements: LISTEN, and the migrations' session-level advisory lock.
 */
export function directDatabaseUrl (config: { DATABASE_URL: string, DATABASE_LISTEN_URL?: string }): string
export function directDatabaseUrl (config: { DATABASE_URL?: string, DATABASE_LISTEN_URL?: string }): string | undefined
export function directDatabaseUrl (config: { DATABASE_URL?: string, DATABASE_LISTEN_URL?: string }): string | undefined {
  return config.DATABASE_LISTEN_URL ?? config.DATABASE_URL
}

/** Tracing is on when an OTLP endpoint is set (and the SDK is not disabled). */
export function tracingEnabled (config: Config): boolean {
  return !config.OTEL_SDK_DISABLED &&
    (config.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined)
}

// env-schema reports "env/PORT must be <= 65535"; keep the first problem, name the variable.
function describe (err: Error): string {
  const first = err.message.split(', ')[0] ?? err.message
  const match = /^env(?:\/(\w+))? (.*)$/.exec(first)
  if (!match) return `invalid configuration: ${first}`
  const [, name, problem] = match
  const prop = /must have required property '(\w+)'/.exec(problem ?? '')
  if (prop) return `${prop[1]} is required`
  return `${name} ${problem}`
}

const SECRETS = new Set(['JWT_SECRET'])

/** The effective configuration for the startup log line: secrets and URL passwords redacted. */
export function redactedConfig (config: Config): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).map(([name, value]) => {
    if (SECRETS.has(name)) return [name, '[redacted]']
    if (typeof value === 'string' && /^[a-z]+:\/\//.test(value)) {
      try {
        const url = new URL(value)
        if (url.password !== '') url.password = 'redacted'
        return [name, url.toString()]
      } catch {
        return [name, '[unparsable URL]']
      }
    }
    return [name, value]
  }))
}
