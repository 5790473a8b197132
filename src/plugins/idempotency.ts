import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { IdempotencyKeyReused, InvalidIdempotencyKey } from '../errors.js'
import { idempotencyRepository, type IdempotencyRecord } from '../repositories/idempotency.js'
import { IDEMPOTENCY_KEY } from '../schemas/idempotency.js'

/** Keys are kept at least this long (until the next prune after it). */
const RETENTION_HOURS = 24
const PRUNE_EVERY_MS = 60 * 60 * 1000

export interface IdempotentCreate<T> {
  /** whose key it is: 'user:<id>', or 'email:<address>' for a registration */
  scope: string
  /** the request's own fields: with the route, what makes a retry the same request */
  fields: unknown
  /** the write; it records `key` (when there is one) in the same statement as the row it inserts */
  create: (key: IdempotencyRecord | undefined) => Promise<T>
  /** the first request's result, from the id of the row it created */
  replay: (id: number) => Promise<T>
}

declare module 'fastify' {
  interface FastifyInstance {
    idempotency: {
      /** Creates once per Idempotency-Key: a retry gets what the first request created. */
      once: <T>(request: FastifyRequest, create: IdempotentCreate<T>) => Promise<T>
    }
  }
}

// The Idempotency-Key header: every POST accepts it (422 if malformed); those that create
// something record it with the row they insert, so it exists exactly when the write committed.
export default fp(async app => {
  const keys = idempotencyRepository(app.pg)

  app.addHook('preValidation', async request => {
    if (request.method !== 'POST' || request.is404) return
    const key = request.headers['idempotency-key']
    if (key !== undefined && !(typeof key === 'string' && IDEMPOTENCY_KEY.test(key))) throw new InvalidIdempotencyKey()
  })

  app.decorate('idempotency', {
    async once<T> (request: FastifyRequest, { scope, fields, create, replay }: IdempotentCreate<T>) {
      const key = request.headers['idempotency-key'] as string | undefined
      if (key === undefined) return await create(undefined)
      const fingerprint = createHash('sha256')
        .update(JSON.stringify([request.method, request.routeOptions.url, fields])).digest('base64url')
      try {
        return await create({ scope, key, fingerprint })
      } catch (err) {
        // The key was taken (a retry, or an identical request that committed first while this one
        // waited on it), or the write's outcome is unknown (the connection failed around COMMIT):
        // the key, committed with the row or not at all, tells whether it was written.
        const stored = await keys.find(scope, key).catch(() => undefined)
        if (stored === undefined) throw err
        if (stored.fingerprint !== fingerprint) throw new IdempotencyKeyReused()
        return await replay(stored.resourceId)
      }
    }
  })

  // Off the request path: one indexed DELETE an hour per instance.
  const timer = setInterval(() => {
    keys.prune(RETENTION_HOURS).catch(err => app.log.warn({ err }, 'pruning expired idempotency keys failed'))
  }, PRUNE_EVERY_MS).unref()
  app.addHook('onClose', async () => { clearInterval(timer) })
}, { name: 'idempotency', dependencies: ['db'] })
