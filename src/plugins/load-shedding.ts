import { getHeapStatistics } from 'node:v8'
import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'
import { Overloaded } from '../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A probe route: no per-request log line, no rate limit, no load shedding. */
    probe?: boolean
    /** @fastify/under-pressure's per-route handler; on probes it lets the request through. */
    pressureHandler?: () => void
  }
}

// An instance whose event loop lags or whose heap is nearly full answers 503 at once (Overloaded,
// with Retry-After) instead of queueing more work and failing everyone. Probes are exempt: an
// overloaded instance is still alive, and its readiness is its own question.
export default fp(async app => {
  const { SHED_EVENT_LOOP_DELAY_MS, SHED_HEAP_USED_BYTES } = app.config
  await app.register(underPressure, {
    maxEventLoopDelay: SHED_EVENT_LOOP_DELAY_MS,
    // Unset: 90 % of the heap V8 will grow to (which follows the container's memory limit).
    maxHeapUsedBytes: SHED_HEAP_USED_BYTES ?? Math.floor(getHeapStatistics().heap_size_limit * 0.9),
    customError: Overloaded,
    retryAfter: 2
  })
  app.addHook('onRoute', route => {
    if (route.config?.probe === true) route.config.pressureHandler = () => {}
  })
}, { name: 'load-shedding', dependencies: ['config'] })
