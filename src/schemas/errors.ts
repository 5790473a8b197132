import { Type } from 'typebox'
import { ERRORS } from './examples.js'
import { ref } from './ref.js'

export const ErrorBody = Type.Object({
  errors: Type.Record(Type.String(), Type.Array(Type.String()))
}, {
  $id: 'GenericErrorModel',
  description: 'Every 4xx and 5xx: messages per field, e.g. {"errors":{"email":["has already been taken"]}}',
  examples: [ERRORS]
})

const error = ref(ErrorBody)

/** Response entries for the error statuses a route can answer. */
export function errors (...statuses: Array<400 | 401 | 403 | 404 | 413 | 415 | 422 | 429 | 503>) {
  return Object.fromEntries(statuses.map(status => [status, error])) as Record<number, typeof error>
}
