import { createSigner, createVerifier, TokenError } from 'fast-jwt'
import fp from 'fastify-plugin'
import { TokenExpired, TokenInvalid } from '../errors.js'

export interface Tokens {
  sign (userId: number): string
  /** The user id a token was issued to; throws the 401 errors for every bad token. */
  verify (token: string): number
}

declare module 'fastify' {
  interface FastifyInstance {
    tokens: Tokens
  }
}

export default fp(async app => {
  const { JWT_SECRET, JWT_EXPIRES_IN } = app.config
  const signer = createSigner({ key: JWT_SECRET, algorithm: 'HS256', expiresIn: JWT_EXPIRES_IN })
  // The algorithm is pinned: `alg: none` and algorithm-confusion tokens fail verification.
  const verifier = createVerifier({
    key: JWT_SECRET,
    algorithms: ['HS256'],
    requiredClaims: ['sub', 'exp'],
    cache: 1000
  })

  app.decorate('tokens', {
    sign: userId => signer({ sub: String(userId) }),
    verify (token) {
      let payload: { sub?: unknown }
      try {
        payload = verifier(token)
      } catch (err) {
        if (err instanceof TokenError && err.code === TokenError.codes.expired) throw new TokenExpired()
        throw new TokenInvalid()
      }
      // sign() writes `sub` as the id's decimal string; anything else was not issued here, and
      // users.id is a PostgreSQL integer, so a larger id must not reach a query.
      const sub = payload.sub
      if (typeof sub !== 'string' || !/^[1-9][0-9]{0,9}$/.test(sub)) throw new TokenInvalid()
      const userId = Number(sub)
      if (userId > 2147483647) throw new TokenInvalid()
      return userId
    }
  } satisfies Tokens)
}, { name: 'tokens', dependencies: ['config'] })
