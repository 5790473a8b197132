import { randomUUID } from 'node:crypto'
import type { Server } from 'node:http'
import type { FastifyHttpOptions } from 'fastify'
import type { Config } from './config.js'
import { clientErrorHandler, frameworkErrors } from './framework-errors.js'
import { RequestLogController } from './log-controller.js'
import type { Tracing } from './tracing.js'
import { buildValidator } from './validator-compiler.js'

// Honour a caller's request id only if it is safe to log and echo.
const REQUEST_ID = /^[\w.:-]{1,128}$/

/** Fastify's own options, shared by server.ts and the tests so both run the same server. */
export function serverOptions (config: Config, tracing?: Tracing): FastifyHttpOptions<Server> {
  return {
    logger: {
      level: config.LOG_LEVEL,
      // With tracing on, every line carries the trace_id and span_id it belongs to.
      ...(tracing === undefined ? {} : { mixin: tracing.logFields }),
      redact: {
        // Explicit paths only: wildcards are evaluated on every log line (5 % of CPU under load).
        paths: [
          'req.headers.authorization', 'headers.authorization', 'authorization',
          'password', 'token', 'user.password', 'user.token', 'body.user.password', 'body.user.token'
        ],
        censor: '[redacted]'
      }
    },
    logController: new RequestLogController(),
    requestIdHeader: false,
    genReqId: request => {
      const id = request.headers['x-request-id']
      return typeof id === 'string' && REQUEST_ID.test(id) ? id : randomUUID()
    },
    bodyLimit: config.BODY_LIMIT,
    // Which peers' X-Forwarded-For to believe for request.ip (the rate limits' client address).
    trustProxy: config.trustProxy,
    // Below the usual 60 s of load balancers' idle timeouts, and short enough that an idle
    // keep-alive connection does not hold up a graceful close.
    keepAliveTimeout: 5000,
    connectionTimeout: 30000,
    requestTimeout: 30000,
    // Answered by plugins/draining.ts in the Conduit error shape instead.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 300 },
    frameworkErrors,
    clientErrorHandler,
    // Node answers an HTTP/1.1 request without Host with a bare 400 of its own; nothing here is
    // routed by host, so such a request is served like any other.
    http: { requireHostHeader: false },
    schemaController: { compilersFactory: { buildValidator } }
  }
}
