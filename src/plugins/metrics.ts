import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client'
import { registerServiceMetrics } from '../metrics/service-metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Prometheus registry, served on METRICS_HOST:METRICS_PORT (never the public port). */
    metrics: Registry
  }
}

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx']

// Prometheus metrics: request durations by method, route pattern and status class (observed in
// one onResponse hook, with a label child cached per route), the process's default metrics, and
// the service's own (see metrics/service-metrics.ts), on a listener of their own.
export default fp(async app => {
  const { METRICS_PORT, METRICS_HOST } = app.config
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  registerServiceMetrics(app, registry)
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern (never the raw URL) and status class',
    labelNames: ['method', 'route', 'status_class'],
    buckets: BUCKETS,
    registers: [registry]
  })
  // Children per route config object (one per route and method): no label hashing per request.
  const children = new WeakMap<object, Array<ReturnType<typeof duration.labels>>>()
  const unmatched = {}
  app.addHook('onResponse', (request, reply, done) => {
    const { config, url, method } = request.routeOptions
    const key = url === undefined ? unmatched : config
    let byClass = children.get(key)
    if (byClass === undefined) {
      byClass = CLASSES.map(cls => duration.labels(request.method, url === undefined ? 'unmatched' : url, cls))
      if (typeof method === 'string') children.set(key, byClass)
    }
    byClass[Math.min(4, Math.max(0, Math.floor(reply.statusCode / 100) - 1))]?.observe(reply.elapsedTime / 1000)
    done()
  })
  app.decorate('metrics', registry)

  if (METRICS_PORT === 0) return
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' })
      response.end(JSON.stringify({ errors: { route: [`${request.method} ${request.url} not found (metrics are at GET /metrics)`] } }))
      return
    }
    registry.metrics().then(text => {
      response.writeHead(200, { 'content-type': registry.contentType })
      response.end(text)
    }, (err: Error) => {
      app.log.error({ err }, 'metrics collection failed')
      response.writeHead(500, { 'content-type': 'application/json; charset=utf-8' })
      response.end(JSON.stringify({ errors: { metrics: ['could not be collected'] } }))
    })
  })
  app.addHook('onReady', async () => {
    server.listen(METRICS_PORT, METRICS_HOST)
    await once(server, 'listening')
  })
  app.addHook('onClose', async () => {
    if (!server.listening) return
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
}, { name: 'metrics', dependencies: ['config', 'db', 'read-db', 'cache'] })
