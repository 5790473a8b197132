import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { auth, createArticle, type TestUser } from './helper.js'

export { buildWithDatabase, queryDatabase } from './helper.js'

/** What the API answers for an article (list items have no `body`). */
export interface ArticleJson {
  slug: string
  title: string
  description: string
  body?: string
  tagList: string[]
  createdAt: string
  updatedAt: string
  favorited: boolean
  favoritesCount: number
  author: { username: string, bio: string, image: string, following: boolean }
}

export interface CommentJson {
  id: number
  body: string
  createdAt: string
  updatedAt: string
  author: { username: string, bio: string, image: string, following: boolean }
}

export interface ArticleList {
  articles: ArticleJson[]
  articlesCount: number
}

/** ISO 8601 in UTC with milliseconds, as `Date.prototype.toISOString` writes it. */
export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** URL-safe slug characters. */
export const SLUG = /^[a-z0-9-]+$/

/** Headers a frontend sends on favorite, follow and delete: JSON content type, no body. */
export function jsonHeaders (user?: { token: string }): InjectOptions['headers'] {
  return { ...(user === undefined ? {} : auth(user)), 'content-type': 'application/json' }
}

/** Asserts a Conduit error: the status, and `{"errors":{"<field>":["<message>", ...]}}`. */
export function assertError (t: Test, res: LightMyRequestResponse, status: number, field?: string): void {
  t.equal(res.statusCode, status, `status ${status}`)
  let body: unknown
  try {
    body = res.json()
  } catch {
    t.fail(`body is not JSON: ${res.body}`)
    return
  }
  if (!isErrorBody(body)) {
    t.fail(`errors shape: ${res.body}`)
    return
  }
  t.pass('errors shape')
  if (field !== undefined) {
    const errors = (body as { errors: Record<string, unknown> }).errors
    t.ok(Object.hasOwn(errors, field), `errors name "${field}": ${res.body}`)
  }
}

function isErrorBody (body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false
  const keys = Object.keys(body)
  if (keys.length !== 1 || keys[0] !== 'errors') return false
  const errors = (body as { errors: unknown }).errors
  if (typeof errors !== 'object' || errors === null || Array.isArray(errors)) return false
  const entries = Object.values(errors)
  return entries.length > 0 && entries.every(messages =>
    Array.isArray(messages) && messages.length > 0 && messages.every(m => typeof m === 'string' && m !== ''))
}

export async function getArticle (app: FastifyInstance, slug: string, user?: TestUser) {
  return app.inject({ url: `/api/articles/${encodeURIComponent(slug)}`, headers: user === undefined ? {} : auth(user) })
}

/** GET /api/articles (or the feed) with a query; asserts 200 and returns the body. */
export async function listArticles (
  t: Test, app: FastifyInstance, query: Record<string, string | number> = {}, user?: TestUser, path = '/api/articles'
): Promise<ArticleList> {
  const res = await app.inject({
    url: path,
    query: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])),
    headers: user === undefined ? {} : auth(user)
  })
  t.equal(res.statusCode, 200, `GET ${path} ${JSON.stringify(query)}: ${res.statusCode}`)
  return res.json() as ArticleList
}

export async function favorite (app: FastifyInstance, user: TestUser, slug: string) {
  return app.inject({ method: 'POST', url: `/api/articles/${slug}/favorite`, headers: jsonHeaders(user) })
}

export async function unfavorite (app: FastifyInstance, user: TestUser, slug: string) {
  return app.inject({ method: 'DELETE', url: `/api/articles/${slug}/favorite`, headers: jsonHeaders(user) })
}

export async function follow (app: FastifyInstance, user: TestUser, username: string): Promise<void> {
  const res = await app.inject({ method: 'POST', url: `/api/profiles/${username}/follow`, headers: jsonHeaders(user) })
  if (res.statusCode !== 200) throw new Error(`follow failed: ${res.statusCode} ${res.body}`)
}

export async function addComment (app: FastifyInstance, user: TestUser, slug: string, body = 'A comment') {
  const res = await app.inject({
    method: 'POST',
    url: `/api/articles/${slug}/comments`,
    headers: auth(user),
    payload: { comment: { body } }
  })
  if (res.statusCode !== 200) throw new Error(`add comment failed: ${res.statusCode} ${res.body}`)
  return res.json().comment as CommentJson
}

/** Creates articles one after another (so each is newer than the one before); returns their slugs, oldest first. */
export async function createArticles (
  app: FastifyInstance, user: TestUser, count: number, article: Record<string, unknown> = {}
): Promise<string[]> {
  const slugs: string[] = []
  for (let i = 0; i < count; i++) {
    const created = await createArticle(app, user, { title: `${user.username} article ${i}`, ...article })
    slugs.push(created.slug)
  }
  return slugs
}
