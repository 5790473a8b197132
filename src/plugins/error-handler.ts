import type { FastifyError, FastifySchemaValidationError } from 'fastify'
import fp from 'fastify-plugin'
import { DatabaseUnavailable, errorField, fromPostgres, RouteNotFound } from '../errors.js'
import { HTTP_URL_PATTERN } from '../schemas/user.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Why a request answered 5xx without being a bug (a PostgreSQL failure), for its log line. */
    failure: string | null
  }
}

type Errors = Record<string, string[]>

// Conduit frontends print "<field> <message>", so messages read on from the field name.
function describe (e: FastifySchemaValidationError): string {
  const p = e.params as Record<string, unknown>
  switch (e.keyword) {
    case 'required': return "can't be blank"
    case 'minLength': return p.limit === 1 ? "can't be blank" : `is too short (minimum is ${p.limit} characters)`
    case 'maxLength': return `is too long (maximum is ${p.limit} characters)`
    case 'pattern':
      if (p.pattern === '\\S') return "can't be blank"
      return p.pattern === HTTP_URL_PATTERN ? 'must be an http or https URL' : 'is invalid'
    case 'format': return 'is invalid'
    case 'type': return `must be ${/^[aeiou]/.test(String(p.type)) ? 'an' : 'a'} ${p.type}`
    case 'minimum': return `must be greater than or equal to ${p.limit}`
    case 'maximum': return `must be less than or equal to ${p.limit}`
    case 'maxItems': return `has too many items (maximum is ${p.limit})`
    case 'minProperties': return 'must contain at least one field'
    default: return e.message ?? 'is invalid'
  }
}

function validationErrors (error: FastifyError): Errors {
  const errors: Errors = {}
  for (const e of error.validation ?? []) {
    if (e.keyword === 'anyOf') continue
    const missing = (e.params as { missingProperty?: string }).missingProperty
    const path = e.instancePath.split('/').filter(s => s !== '' && !/^\d+$/.test(s))
    const field = missing ?? path.at(-1) ?? error.validationContext ?? 'request'
    // anyOf branches (string or null) each report; the first says enough.
    errors[field] ??= [describe(e)]
  }
  return errors
}

function clientErrors (error: FastifyError, status: number): Errors {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { body: ['is not valid JSON'] }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { body: ['is too large'] }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { body: ['must be sent as application/json'] }
  }
  const field = errorField(error.code)
  if (field !== undefined) return { [field]: [error.message] }
  // Other 4xx from Fastify or a plugin (bad JSON from secure-json-parse, bad URL, ...).
  return { [status === 400 ? 'body' : 'request']: [error.message] }
}

export default fp(async app => {
  app.decorateRequest('failure', null)
  app.setErrorHandler((thrown: FastifyError, request, reply) => {
    if (thrown.validation) {
      return reply.code(422).send({ errors: validationErrors(thrown) })
    }
    const error = (fromPostgres(thrown) ?? thrown) as FastifyError
    const status = error.statusCode ?? 500
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ errors: clientErrors(error, status) })
    }
    if (error instanceof DatabaseUnavailable) {
      // A dependency that is down is not a bug: no stack, no line of its own. An outage is
      // logged when it starts and when it ends (with the count of refused requests); the
      // request's own line says 503, and why when it is not part of an outage.
      if (!app.dbHealth.refuse()) {
        const { message, code } = thrown as { message: string, code?: string }
        request.failure = code === undefined ? message : `${message} (${code})`
      }
      return reply.code(503).header('retry-after', '2').send({ errors: { database: [error.message] } })
    }
    request.log.error({ err: thrown }, 'request failed')
    const field = errorField(error.code)
    if (field !== undefined) return reply.code(status).send({ errors: { [field]: [error.message] } })
    return reply.code(status >= 500 && status < 600 ? status : 500)
      .send({ errors: { server: [`internal error (request ${request.id})`] } })
  })

  app.setNotFoundHandler(async request => {
    throw new RouteNotFound(`${request.method} ${request.url.split('?')[0]}`)
  })
}, { name: 'error-handler' })
