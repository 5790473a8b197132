// Answers for what Fastify's router and Node's HTTP parser refuse before any route or hook runs
// (a malformed request, headers over the size limit, a client too slow to send its request, a
// path parameter over the router's limit, an Expect it cannot meet), in the one error shape
// Conduit frontends display.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'

type Errors = Record<string, string[]>

const routerErrors: Record<string, { status: number, errors: Errors }> = {
  FST_ERR_BAD_URL: { status: 400, errors: { url: ['is not a valid URL'] } },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, errors: { url: ['has a path segment that is too long'] } }
}

/** Fastify's `frameworkErrors`: the router could not match the URL at all. */
export function frameworkErrors (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const known = routerErrors[error.code]
  if (known === undefined) {
    request.log.error({ err: error }, 'request failed before routing')
    reply.code(500).send({ errors: { server: [`internal error (request ${request.id})`] } })
    return
  }
  reply.code(known.status).send({ errors: known.errors })
}

function clientError (code: string | undefined): { status: number, errors: Errors } {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, errors: { request: ['took too long to arrive'] } }
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, errors: { headers: ['are too large'] } }
    default:
      return { status: 400, errors: { request: ['is not a valid HTTP request'] } }
  }
}

/**
 * Fastify's `clientErrorHandler`: Node's HTTP parser rejected the bytes on a connection, so there
 * is no request to reply to; the answer is written to the socket, which is then closed.
 */
export function clientErrorHandler (error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const { status, errors } = clientError(error.code)
  const body = JSON.stringify({ errors })
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy()
}

/** Node's `checkExpectation`: an `Expect` other than 100-continue (Node's own answer has no body). */
export function expectationFailed (request: IncomingMessage, response: ServerResponse): void {
  const body = JSON.stringify({ errors: { expect: [`${String(request.headers.expect)} is not supported`] } })
  response.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' })
  response.end(body)
}
