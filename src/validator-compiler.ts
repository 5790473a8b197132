// Fastify's own Ajv validators, with one hole closed: no request can carry a number that is not
// finite. Ajv coerces the strings "1e999" and "Infinity" (query, path) to ±Infinity without
// checking the result, and its minimum/maximum checks skip non-finite numbers, so `limit=1e999`
// passed `maximum: 100`. A JSON body can hold 1e999 too. Checking the validated data once here
// covers every numeric input of every route, present and future.
import { AjvCompiler } from '@fastify/ajv-compiler'
import type { FastifySchemaValidationError } from 'fastify'
import { nonFinitePath } from './lib/non-finite.js'

type Validate = ((data: unknown) => unknown) & { errors?: FastifySchemaValidationError[] | null }
type BuildValidator = ReturnType<typeof AjvCompiler>
type Compile = (route: Parameters<ReturnType<BuildValidator>>[0]) => Validate

function finite (validate: Validate): Validate {
  const checked: Validate = data => {
    const result = validate(data)
    if (result !== true) {
      checked.errors = validate.errors
      return result
    }
    const path = nonFinitePath(data)
    if (path === undefined) return true
    checked.errors = [{
      keyword: 'type',
      instancePath: path,
      schemaPath: '#/type',
      params: { type: 'finite number' },
      message: 'must be a finite number'
    }]
    return false
  }
  return checked
}

const buildAjv = AjvCompiler()

/** Fastify's `schemaController.compilersFactory.buildValidator`. */
export const buildValidator = ((externalSchemas: unknown, options: unknown) => {
  const compile = (buildAjv as (...args: unknown[]) => Compile)(externalSchemas, options)
  return (route: Parameters<Compile>[0]) => finite(compile(route))
}) as unknown as BuildValidator
