import { randomBytes } from 'node:crypto'
import type { Server } from 'node:http'
import Fastify, { type FastifyHttpOptions, type FastifyInstance, type InjectOptions } from 'fastify'
import pg from 'pg'
import type { Test } from 'tap'
import app from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { serverOptions } from '../src/server-options.js'
import type { Tracing } from '../src/tracing.js'

export const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** A database of its own on the test server, dropped when the test ends. */
export async function createTestDatabase (t: Test): Promise<string> {
  const name = `test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: SERVER_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  t.teardown(async () => {
    const admin = new pg.Client({ connectionString: SERVER_URL })
    await admin.connect()
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  })
  const url = new URL(SERVER_URL)
  url.pathname = `/${name}`
  return url.toString()
}

/** Rate limits are off unless a test sets them: most tests register and write far more than a person would. */
export const LIMITS_OFF = { RATE_LIMIT_MAX: '0', AUTH_RATE_LIMIT_MAX: '0', WRITE_RATE_LIMIT_MAX: '0' }

// Load shedding is off too: a test machine running many files in parallel lags far more than a
// service should ever be allowed to (test/load-shedding.test.ts turns it on).
export function testConfig (env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    JWT_SECRET: 'test-secret-'.padEnd(40, 'x'),
    METRICS_PORT: '0',
    SHED_EVENT_LOOP_DELAY_MS: '0',
    SHED_HEAP_USED_BYTES: '0',
    ...LIMITS_OFF,
    ...env
  })
}

/**
 * The app as server.ts builds it, on a fresh database, but also returns that database's URL (the pool
 * is encapsulated inside the app plugin) and lets a test change Fastify's options (the logger) and
 * turn tracing on (a test that does must have started it before importing this file).
 */
export async function buildWithDatabase (
  t: Test,
  env: Record<string, string> = {},
  options: (defaults: FastifyHttpOptions<Server>) => FastifyHttpOptions<Server> = defaults => defaults,
  tracing?: Tracing
): Promise<{ app: FastifyInstance, databaseUrl: string }> {
  const config = testConfig(env)
  const databaseUrl = await createTestDatabase(t)
  const server = Fastify(options(serverOptions(config, tracing)))
  await server.register(app, { config: { ...config, DATABASE_URL: databaseUrl }, tracing })
  await server.ready()
  t.teardown(() => server.close())
  return { app: server, databaseUrl }
}

/** One query on its own connection. */
export async function queryDatabase<R extends Record<string, unknown>> (
  databaseUrl: string, sql: string, params: unknown[] = []
): Promise<R[]> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    return (await client.query<R>(sql, params)).rows
  } finally {
    await client.end()
  }
}

/** The app as server.ts builds it, on a fresh database, closed when the test ends. */
export async function build (t: Test, env: Record<string, string> = {}): Promise<FastifyInstance> {
  return (await buildWithDatabase(t, env)).app
}

export interface TestUser {
  username: string
  email: string
  password: string
  token: string
}

let counter = 0

/** Registers a new user through the API and returns its credentials. */
export async function registerUser (app: FastifyInstance, username?: string, remoteAddress?: string): Promise<TestUser> {
  const name = username ?? `user${process.pid}x${++counter}`
  const user = { username: name, email: `${name}@example.com`, password: 'password123' }
  const res = await app.inject({ method: 'POST', url: '/api/users', payload: { user }, remoteAddress })
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`)
  return { ...user, token: res.json().user.token }
}

/** `Authorization: Token <jwt>` headers for a user. */
export function auth (user: { token: string }): InjectOptions['headers'] {
  return { authorization: `Token ${user.token}` }
}

export async function createArticle (app: FastifyInstance, user: TestUser, article: Record<string, unknown> = {}) {
  const res = await app.inject({
    method: 'POST',
    url: '/api/articles',
    headers: auth(user),
    payload: { article: { title: 'A title', description: 'A description', body: 'A body', tagList: [], ...article } }
  })
  if (res.statusCode !== 201) throw new Error(`create article failed: ${res.statusCode} ${res.body}`)
  return res.json().article as { slug: string, title: string, tagList: string[] }
}
