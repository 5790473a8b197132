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
