// Plain HTTP clients of the local cluster (bench/local-cluster.ts) for test/cluster.test.ts: one
// request with what the test needs to know of it, and a steady read and write load whose every
// outcome is kept.
import { setTimeout as sleep } from 'node:timers/promises'

export interface Answer {
  status: number
  body: any
  /** the instance HAProxy sent it to (its X-Served-By header) */
  servedBy?: string
  ms: number
  /** the network error, when there was no answer */
  error?: string
}

export interface Call {
  method?: string
  body?: unknown
  token?: string
  /** the client's address, as HAProxy forwards it (X-Forwarded-For) */
  from?: string
  headers?: Record<string, string>
}

export async function call (base: string, path: string, { method = 'GET', body, token, from, headers = {} }: Call = {}): Promise<Answer> {
  const started = performance.now()
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token === undefined ? {} : { authorization: `Token ${token}` }),
        ...(from === undefined ? {} : { 'x-forwarded-for': from }),
        ...headers
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(20000)
    })
    const text = await res.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {}
    return { status: res.status, body: parsed, servedBy: res.headers.get('x-served-by') ?? undefined, ms: performance.now() - started }
  } catch (err) {
    return { status: 0, body: undefined, ms: performance.now() - started, error: String((err as Error).cause ?? err) }
  }
}

export const ok = (answer: Answer) => answer.status >= 200 && answer.status < 300

let addresses = 0
/** A client address of its own (TEST-NET-2), so its registrations and logins count against no one else's limit. */
export const newAddress = () => `198.51.100.${++addresses}`

export async function register (base: string, username: string): Promise<{ username: string, token: string }> {
  const user = { username, email: `${username}@cluster.test`, password: 'password123' }
  const answer = await call(base, '/api/users', { method: 'POST', body: { user }, from: newAddress() })
  if (answer.status !== 201) throw new Error(`register ${username}: ${answer.status} ${JSON.stringify(answer.body)}`)
  return { username, token: answer.body.user.token }
}

export interface Outcome extends Answer {
  kind: 'read' | 'write'
  /** ms since the load started */
  at: number
  /** a write: the comment's body, and its id if acknowledged */
  sent?: string
  commentId?: number
}

/**
 * `readers` loops reading the article list and one article, and `writers` loops commenting on
 * it (each comment with an Idempotency-Key, so a retry by HAProxy cannot post it twice), through
 * `base`, until stopped.
 */
export function steadyLoad (base: string, options: { slug: string, token: string, readers: number, writers: number, tag: string }) {
  const { slug, token, tag } = options
  const outcomes: Outcome[] = []
  const started = performance.now()
  const state = { running: true }
  let seq = 0
  const reader = async (n: number) => {
    for (let i = n; state.running; i++) {
      const at = performance.now() - started
      const path = i % 2 === 0 ? '/api/articles?limit=5' : `/api/articles/${slug}`
      outcomes.push({ kind: 'read', at, ...await call(base, path) })
      await sleep(5)
    }
  }
  const writer = async () => {
    while (state.running) {
      const sent = `${tag} ${++seq}`
      const at = performance.now() - started
      const answer = await call(base, `/api/articles/${slug}/comments`, {
        method: 'POST', body: { comment: { body: sent } }, token, headers: { 'idempotency-key': sent }
      })
      outcomes.push({ kind: 'write', at, sent, commentId: ok(answer) ? answer.body.comment.id : undefined, ...answer })
      await sleep(5)
    }
  }
  const loops = [
    ...Array.from({ length: options.readers }, (_, n) => reader(n)),
    ...Array.from({ length: options.writers }, () => writer())
  ]
  return {
    outcomes,
    /** ms since the load started */
    now: () => performance.now() - started,
    async stop (): Promise<Outcome[]> {
      state.running = false
      await Promise.all(loops)
      return outcomes
    }
  }
}

export function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

/** "n failed: 503 from i2 {...}; ..." for a message. */
export function describeFailures (failures: Outcome[]): string {
  return `${failures.length} failed` + (failures.length === 0
    ? ''
    : ': ' + failures.slice(0, 5).map(f => `${f.kind} at ${Math.round(f.at)} ms: ${f.status} ${f.servedBy ?? ''} ${f.error ?? JSON.stringify(f.body)}`).join('; '))
}
