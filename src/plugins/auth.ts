import type { FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { TokenInvalid, TokenMissing } from '../errors.js'
import type { UserRow } from '../repositories/users.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user's id, or null for an anonymous request. */
    userId: number | null
    /** The authenticated user, on routes where auth is required. */
    user: UserRow | null
  }
  interface FastifyInstance {
    auth: {
      /** onRequest hook: a valid token of an existing user is required (401 otherwise). */
      required: onRequestHookHandler
      /** onRequest hook: no token is anonymous, but a bad token is still a 401. */
      optional: onRequestHookHandler
    }
  }
}

const SCHEME = /^(?:Token|Bearer) +(\S+) *$/i

// Hooks run at onRequest: a request without valid credentials is refused before its body is
// read or validated (401 wins over 413 and 422).
export default fp(async app => {
  app.decorateRequest('userId', null)
  app.decorateRequest('user', null)

  function identify (request: FastifyRequest): void {
    const header = request.headers.authorization
    if (header === undefined || header === '') return
    const token = SCHEME.exec(header)?.[1]
    if (token === undefined) throw new TokenInvalid()
    request.userId = app.tokens.verify(token)
  }

  app.decorate('auth', {
    async required (request) {
      identify(request)
      if (request.userId === null) throw new TokenMissing()
      // A valid token of a user who has since been deleted identifies no one.
      const user = await app.repos.users.findById(request.userId)
      if (user === undefined) throw new TokenInvalid()
      request.user = user
    },
    async optional (request) {
      identify(request)
    }
  })
}, { name: 'auth', dependencies: ['tokens', 'repositories'] })
