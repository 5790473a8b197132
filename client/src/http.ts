// The client's transport: JSON over fetch with the caller's token, every non-2xx answer thrown as a
// ConduitError, and conditional GETs that answer a 304 with the caller's cached copy.
import type { ErrorBody } from './types.js'

/** The part of `fetch` the client uses: the browser's, Node's, or a wrapper of the caller's. */
export type Fetch = (url: string, init: { method: string, headers: Record<string, string>, body?: string }) => Promise<{
  status: number
  headers: { get (name: string): string | null }
  text (): Promise<string>
}>

export interface ClientOptions {
  /** The API's root, `/api` included, e.g. `http://localhost:3000/api`. */
  baseUrl: string
  /** A JWT from an earlier login; login, register and updateCurrentUser replace it. */
  token?: string | null
  fetch?: Fetch
}

/** A cached copy of a GET's result: give it back to the same GET to revalidate it. */
export interface Snapshot<T> {
  body: T
  etag?: string
}

export interface Fetched<T> extends Snapshot<T> {
  /** True when the server answered 304 and `body` is the cached copy that was passed in. */
  notModified: boolean
}

/** A non-2xx answer, with the API's `{"errors":{"<field>":["<message>"]}}`. */
export class ConduitError extends Error {
  readonly status: number
  readonly errors: ErrorBody['errors']

  constructor (status: number, errors: ErrorBody['errors']) {
    const text = Object.entries(errors).map(([field, messages]) => `${field} ${messages.join(', ')}`).join('; ')
    super(`HTTP ${status}: ${text}`)
    this.name = 'ConduitError'
    this.status = status
    this.errors = errors
  }
}

export type Query = Record<string, string | number | undefined>

/** A path with its query string; parameters left undefined are not sent. */
export function withQuery (path: string, query: Query = {}): string {
  const pairs = Object.entries(query).flatMap(([name, value]) =>
    value === undefined ? [] : [`${encodeURIComponent(name)}=${encodeURIComponent(value)}`])
  return pairs.length === 0 ? path : `${path}?${pairs.join('&')}`
}

// Anything else (a proxy's HTML error page, an empty 502) is kept as the one message there is.
function errorsOf (text: string, status: number): ErrorBody['errors'] {
  try {
    const parsed: unknown = JSON.parse(text)
    const errors = (parsed as Partial<ErrorBody> | null)?.errors
    if (typeof errors === 'object' && errors !== null && Object.values(errors).every(Array.isArray)) return errors
  } catch {}
  return { response: [text === '' ? `status ${status}` : text.slice(0, 200)] }
}

export function createTransport (options: ClientOptions) {
  const baseUrl = options.baseUrl.replace(/\/+$/, '')
  // Resolved at each call and called as a plain function: a browser's fetch throws "Illegal
  // invocation" when called as a method of another object.
  const fetch: Fetch = options.fetch ?? ((url, init) => (globalThis as unknown as { fetch: Fetch }).fetch(url, init))
  let token = options.token ?? null

  async function call (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const all: Record<string, string> = { accept: 'application/json', ...headers }
    if (token !== null) all.authorization = `Token ${token}`
    if (body !== undefined) all['content-type'] = 'application/json'
    const response = await fetch(baseUrl + path, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await response.text()
    return { status: response.status, etag: response.headers.get('etag') ?? undefined, text }
  }

  function fail ({ status, text }: { status: number, text: string }): never {
    throw new ConduitError(status, errorsOf(text, status))
  }

  return {
    get token () { return token },
    setToken (value: string | null) { token = value },

    /** A write; resolves to the response body (undefined for a 204). */
    async send<T> (method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
      const response = await call(method, path, body, idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey })
      if (response.status > 299) fail(response)
      return (response.text === '' ? undefined : JSON.parse(response.text)) as T
    },

    /** A read of envelope W, resolving to `pick(W)`; given a cached copy with an ETag, a conditional one. */
    async get<W, T> (path: string, pick: (body: W) => T, cached?: Snapshot<T>): Promise<Fetched<T>> {
      const response = await call('GET', path, undefined, cached?.etag === undefined ? {} : { 'if-none-match': cached.etag })
      if (response.status === 304 && cached?.etag !== undefined) {
        return { body: cached.body, etag: response.etag ?? cached.etag, notModified: true }
      }
      if (response.status > 299) fail(response)
      return { body: pick(JSON.parse(response.text) as W), etag: response.etag, notModified: false }
    }
  }
}
