import type { FastifyRequest, preHandlerHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { TokenInvalid, TokenMissing } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user's id, or null for an anonymous request. */
    userId: number | null
  }
  interface FastifyInstance {
    auth: {
      /** preHandler: a valid token is required (401 otherwise). */
      required: preHandlerHookHandler
      /** preHandler: no token is anonymous, but a bad token is still a 401. */
      optional: preHandlerHookHandler
    }
  }
}

const SCHEME = /^(?:Token|Bearer) +(\S+) *$/i

export default fp(async app => {
  app.decorateRequest('userId', null)

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
    },
    async optional (request) {
      identify(request)
    }
  })
}, { name: 'auth', dependencies: ['tokens'] })
