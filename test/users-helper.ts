import { Writable } from 'node:stream'
import { createSigner, type SignerOptions } from 'fast-jwt'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type pg from 'pg'
import type { Test } from 'tap'
import { buildWithDatabase, queryDatabase, testConfig } from './helper.js'

/** The secret `build(t)` signs tokens with. */
export const TEST_SECRET = testConfig().JWT_SECRET

/** A token signed as the app would, or with whatever options an attack needs. */
export function signToken (payload: Record<string, unknown>, options: Partial<SignerOptions & { key: string }> = {}): string {
  const sign = createSigner({ key: TEST_SECRET, algorithm: 'HS256', ...options })
  return sign(payload)
}

export function base64url (value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
}

/** A JWT put together by hand: any header, any payload, any signature. */
export function rawToken (header: unknown, payload: unknown, signature = ''): string {
  return `${base64url(header)}.${base64url(payload)}.${signature}`
}

/** Asserts the Conduit error contract: the status, and `{"errors":{"<field>":["<message>", ...]}}`. */
export function assertError (t: Test, res: LightMyRequestResponse, status: number, field: string, message?: string | RegExp): void {
  t.equal(res.statusCode, status, `status ${status} (body ${res.body})`)
  t.match(res.headers['content-type'], /^application\/json/, 'JSON error body')
  let body: unknown
  try {
    body = res.json()
  } catch {
    t.fail(`body is not JSON: ${res.body}`)
    return
  }
  const errors = (body as { errors?: unknown } | null)?.errors
  const isObject = errors !== null && typeof errors === 'object' && !Array.isArray(errors)
  t.ok(isObject, 'errors is an object')
  const messages = isObject ? (errors as Record<string, unknown>)[field] : undefined
  t.ok(Array.isArray(messages) && messages.length > 0 && messages.every(m => typeof m === 'string'),
    `errors.${field} is a non-empty list of strings (body ${res.body})`)
  if (message !== undefined && Array.isArray(messages)) {
    t.ok(messages.some(m => typeof m === 'string' && (typeof message === 'string' ? m === message : message.test(m))),
      `errors.${field} says ${String(message)}`)
  }
}

/** Runs one statement on a test database, on a connection of its own. */
export type Sql = <R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<R[]>

const sqlOn = (url: string): Sql => async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) =>
  await queryDatabase(url, text, values) as R[]

export interface Built {
  app: FastifyInstance
  /** SQL straight on the app's database: `app.pg` is encapsulated inside the app plugin. */
  sql: Sql
  /** Every log line, when built with `logs: true`. */
  logs: string[]
}

/**
 * `build(t)` as test/helper.ts does it (same config, server options and a fresh database), plus
 * direct SQL on that database and, on request, the log lines at `trace`.
 */
export async function buildWithDb (t: Test, { logs: keepLogs = false } = {}): Promise<Built> {
  const logs: string[] = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      logs.push(String(chunk))
      done()
    }
  })
  const { app, databaseUrl } = await buildWithDatabase(t, keepLogs ? { LOG_LEVEL: 'trace' } : {},
    options => keepLogs ? { ...options, logger: { ...(options.logger as object), stream } } : options)
  return { app, sql: sqlOn(databaseUrl), logs }
}

/** The database id of a user, by username. */
export async function userId (sql: Sql, username: string): Promise<number> {
  const [row] = await sql<{ id: number }>('SELECT id FROM users WHERE username = $1', [username])
  if (row === undefined) throw new Error(`no user ${username}`)
  return row.id
}
