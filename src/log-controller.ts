import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

/**
 * One log line per request, written when it completes (Fastify's "incoming request" line is
 * dropped): what on-call needs to follow a request, nothing of its body or credentials.
 */
export class RequestLogController extends LogController {
  override incomingRequest (): void {}
  // requestCompleted already logs the 404 with its route and status.
  override routeNotFound (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      url: request.url,
      route: request.routeOptions.url,
      statusCode: reply.statusCode,
      responseTime: Math.round(reply.elapsedTime * 100) / 100,
      userId: request.userId ?? undefined,
      // hot, redis or postgres: the slowest cache tier this request's reads touched
      data: request.dataReads?.source,
      // why a 503 that is not part of a logged outage failed (see plugins/error-handler.ts)
      failure: request.failure ?? undefined
    }
    if (error) reply.log.error({ ...line, err: error }, 'request errored')
    else reply.log.info(line, 'request completed')
  }
}
