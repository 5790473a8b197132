import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { assertError } from '../users-helper.js'

const WINDOW_MS = 60_000

/**
 * Limits count in fixed one-minute windows: a test that counts up to a limit first waits, if
 * needed, until at least `needMs` of the current window is left, so no window ends mid-count.
 */
export async function clearOfWindowEdge (needMs = 20_000): Promise<void> {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS)
  if (left < needMs) await sleep(left + 50)
}

/** The 429: Conduit error shape under `rate`, and when to retry (in the body and Retry-After). */
export function assertLimited (t: Test, res: LightMyRequestResponse): void {
  assertError(t, res, 429, 'rate', /^limit exceeded, retry in \d+ seconds?$/)
  const retryAfter = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After in seconds (${res.headers['retry-after']})`)
  t.match(res.json().errors.rate[0], `retry in ${retryAfter} second`, 'the body says the same wait')
  t.equal(res.headers['x-ratelimit-remaining'], '0')
}

/** Sends the same request `count` times; the status codes, in order. */
export async function statuses (app: FastifyInstance, count: number, request: InjectOptions | (() => InjectOptions)): Promise<number[]> {
  const codes: number[] = []
  for (let i = 0; i < count; i++) {
    codes.push((await app.inject(typeof request === 'function' ? request() : request)).statusCode)
  }
  return codes
}

/** A login attempt with a wrong password (401, or 429 once limited). */
export function wrongLogin (email = 'nobody@example.com', headers: InjectOptions['headers'] = {}): InjectOptions {
  return { method: 'POST', url: '/api/users/login', headers, payload: { user: { email, password: 'wrong-password' } } }
}

let titles = 0
/** A new article by the user with these headers (a write). */
export function newArticle (headers: InjectOptions['headers']): () => InjectOptions {
  return () => ({
    method: 'POST',
    url: '/api/articles',
    headers,
    payload: { article: { title: `Limited ${++titles}`, description: 'd', body: 'b', tagList: [] } }
  })
}
