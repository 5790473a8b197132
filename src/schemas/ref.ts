import { Type, type Static, type TSchema } from 'typebox'

/**
 * A `$ref` to a schema registered with `app.addSchema`, typed as the schema it points to, so
 * OpenAPI names shared shapes once and handlers keep their static types.
 */
export function ref<T extends TSchema & { $id?: string }> (schema: T) {
  if (schema.$id === undefined) throw new Error('ref() needs a schema with an $id')
  return Type.Unsafe<Static<T>>({ $ref: `${schema.$id}#` })
}
