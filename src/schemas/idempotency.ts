import { Type } from 'typebox'

/** A valid Idempotency-Key: 1 to 255 printable ASCII characters (the header schema below, as a RegExp). */
export const IDEMPOTENCY_KEY = /^[\x20-\x7E]{1,255}$/

// Node gives header names in lower case.
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    minLength: 1,
    maxLength: 255,
    pattern: '^[\\x20-\\x7E]*$',
    description: 'Makes a retry safe. A request that creates something (an article, a comment, a user) is ' +
      'done once per key: a retry with the same key is answered with the first status and resource, ' +
      'even after a failure that followed the write. Keys are per user (per email on registration) ' +
      'and kept 24 hours; the same key with a different request is a 422. Other POSTs accept it and ' +
      'are idempotent anyway.'
  }))
})
