import createError from '@fastify/error'

// Every 4xx answers {"errors":{"<field>":["<message>"]}}: the one shape Conduit frontends render.
const fieldByCode = new Map<string, string>()

function conduitError<C extends string, S extends number> (code: C, field: string, message: string, statusCode: S) {
  fieldByCode.set(code, field)
  // Expected outcomes, not bugs: no stack trace to capture.
  return createError<C, S, [string?]>(code, message, statusCode, undefined, false)
}

/** The field a coded error is reported under, if it is one of ours. */
export function errorField (code: string | undefined): string | undefined {
  return code === undefined ? undefined : fieldByCode.get(code)
}

export const TokenMissing = conduitError('CONDUIT_TOKEN_MISSING', 'token', 'is missing', 401)
export const TokenInvalid = conduitError('CONDUIT_TOKEN_INVALID', 'token', 'is invalid', 401)
export const TokenExpired = conduitError('CONDUIT_TOKEN_EXPIRED', 'token', 'has expired', 401)
export const LoginFailed = conduitError('CONDUIT_LOGIN_FAILED', 'email or password', 'is invalid', 401)

export const NotArticleAuthor = conduitError('CONDUIT_NOT_ARTICLE_AUTHOR', 'article', 'can only be changed by its author', 403)
export const NotCommentAuthor = conduitError('CONDUIT_NOT_COMMENT_AUTHOR', 'comment', 'can only be deleted by its author', 403)

export const ArticleNotFound = conduitError('CONDUIT_ARTICLE_NOT_FOUND', 'article', 'not found', 404)
export const ProfileNotFound = conduitError('CONDUIT_PROFILE_NOT_FOUND', 'profile', 'not found', 404)
export const CommentNotFound = conduitError('CONDUIT_COMMENT_NOT_FOUND', 'comment', 'not found', 404)
export const RouteNotFound = conduitError('CONDUIT_ROUTE_NOT_FOUND', 'route', '%s not found', 404)

export const UsernameTaken = conduitError('CONDUIT_USERNAME_TAKEN', 'username', 'has already been taken', 422)
export const EmailTaken = conduitError('CONDUIT_EMAIL_TAKEN', 'email', 'has already been taken', 422)
export const CannotFollowSelf = conduitError('CONDUIT_CANNOT_FOLLOW_SELF', 'profile', 'cannot follow yourself', 422)
export const InvalidIdempotencyKey = conduitError('CONDUIT_INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key', 'must be 1 to 255 printable ASCII characters', 422)
export const IdempotencyKeyReused = conduitError('CONDUIT_IDEMPOTENCY_KEY_REUSED', 'Idempotency-Key', 'was already used for a different request', 422)

export const RateLimited = conduitError('CONDUIT_RATE_LIMITED', 'rate', 'limit exceeded, retry in %s', 429)

export const InvalidCharacters = conduitError('CONDUIT_INVALID_CHARACTERS', 'request', 'contains characters that cannot be stored (such as \\u0000)', 422)
export const Overloaded = conduitError('CONDUIT_OVERLOADED', 'server', 'is overloaded, try again shortly', 503)
export const DatabaseUnavailable = conduitError('CONDUIT_DATABASE_UNAVAILABLE', 'database', 'is unavailable, try again shortly', 503)

const vanished: Record<string, () => Error> = {
  follows_follower_id_fkey: () => new TokenInvalid(),
  favorites_user_id_fkey: () => new TokenInvalid(),
  comments_author_id_fkey: () => new TokenInvalid(),
  articles_author_id_fkey: () => new TokenInvalid(),
  follows_followee_id_fkey: () => new ProfileNotFound(),
  favorites_article_id_fkey: () => new ArticleNotFound(),
  comments_article_id_fkey: () => new ArticleNotFound(),
  article_tags_article_id_fkey: () => new ArticleNotFound()
}

type DriverError = { code?: unknown, message?: string }

// Socket errors of a connection that cannot be made or was lost.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'EPIPE', 'ECONNABORTED', 'ENOTFOUND', 'EAI_AGAIN'])
// pg's own words for the same: its client-side deadline (query_timeout), a socket that ended, a
// connect timeout (the client's and the pool's), a client already broken.
const LOST = /^Query read timeout$|Connection terminated|^timeout expired$|is not queryable/

/** The query (or connection attempt) failed because of the connection, not the SQL: that connection is done for. */
export function connectionFailure (err: DriverError): boolean {
  const code = typeof err.code === 'string' ? err.code : ''
  // 08: connection exception; 57P01-03: admin or crash shutdown, cannot connect now (starting up, shutting down, recovering).
  return NETWORK_CODES.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' ||
    LOST.test(err.message ?? '')
}

/** pg-pool's error when no pooled connection came free within connectionTimeoutMillis. */
export function poolWaitTimeout (err: DriverError): boolean {
  return err.message === 'timeout exceeded when trying to connect'
}

/**
 * PostgreSQL failures that are not bugs: text it cannot store (a NUL byte in a slug, a body
 * or a query) is the client's 4xx; a database that is down, too slow (57014: statement_timeout)
 * or out of resources (class 53: too many connections, out of memory, disk full) is a 503.
 */
export function fromPostgres (err: DriverError): Error | undefined {
  const code = typeof err.code === 'string' ? err.code : ''
  if (code === '22021' || code === '22P05') return new InvalidCharacters()
  // A row referenced by a write was deleted between the route's lookup and its INSERT.
  if (code === '23503') return vanished[(err as { constraint?: string }).constraint ?? '']?.()
  if (code === '57014' || code.startsWith('53') || connectionFailure(err) || poolWaitTimeout(err)) {
    return new DatabaseUnavailable()
  }
  return undefined
}
