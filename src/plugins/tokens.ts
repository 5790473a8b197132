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

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
// Clocks of several instances disagree a little: an `iat` this far ahead is still ours.
const CLOCK_SKEW_MS = 60_000

/** JWT_EXPIRES_IN (`7d`, `12h`, `900s`, a bare number of ms, as fast-jwt reads it) in ms. */
export function lifetimeMs (expiresIn: string): number {
  const [, amount, unit] = /^(\d+)(ms|s|m|h|d)?$/.exec(expiresIn) ?? []
  return Number(amount) * (UNIT_MS[unit ?? 'ms'] ?? 1)
}

export default fp(async app => {
  const { JWT_SECRET, JWT_EXPIRES_IN } = app.config
  const signer = createSigner({ key: JWT_SECRET, algorithm: 'HS256', expiresIn: JWT_EXPIRES_IN })
  // The algorithm is pinned: `alg: none` and algorithm-confusion tokens fail verification.
  const verifier = createVerifier({
    key: JWT_SECRET,
    algorithms: ['HS256'],
    requiredClaims: ['sub', 'exp', 'iat'],
    cache: 1000
  })
  // Seconds; one more for the rounding of iat and exp.
  const maxLifetime = Math.ceil(lifetimeMs(JWT_EXPIRES_IN) / 1000) + 1

  app.decorate('tokens', {
    sign: userId => signer({ sub: String(userId) }),
    verify (token) {
      let payload: { sub?: unknown, iat?: number, exp?: number }
      try {
        payload = verifier(token)
      } catch (err) {
        if (err instanceof TokenError && err.code === TokenError.codes.expired) throw new TokenExpired()
        throw new TokenInvalid()
      }
      // Only what sign() issues: a lifetime no longer than the configured one, starting now at the
      // latest. A token signed with the real key for longer (a leaked key, an old setting, a
      // hand-made token) is refused, not honoured until its far-off `exp`.
      const { iat, exp } = payload
      if (typeof iat !== 'number' || typeof exp !== 'number' || exp - iat > maxLifetime ||
        iat * 1000 > Date.now() + CLOCK_SKEW_MS) throw new TokenInvalid()
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
