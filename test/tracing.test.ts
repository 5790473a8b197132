import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { SpanKind } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace'
import t, { type Test } from 'tap'
import { startTracing } from '../src/tracing.js'

// Tracing as server.ts starts it (before pg and ioredis are imported), with spans kept in memory.
const exporter = new InMemorySpanExporter()
const tracing = await startTracing({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
const { buildWithDatabase, registerUser, createArticle } = await import('./helper.js')
const { redisPrefix, SHARED_REDIS_URL } = await import('./cache/cache-helper.js')

const prefix = redisPrefix(t)
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c'
const CALLER_SPAN_ID = 'b7ad6b7169203331'

interface LogLine { msg: string, reqId?: string, trace_id?: string, span_id?: string, statusCode?: number }

async function tracedApp (t: Test) {
  const lines: LogLine[] = []
  const stream = new Writable({
    write (chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line) as LogLine)
      callback()
    }
  })
  const { app } = await buildWithDatabase(t, { REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: prefix.next(), CACHE: 'on' },
    defaults => ({ ...defaults, logger: { ...(defaults.logger as object), level: 'info', stream } }), tracing)
  // Redis connects in the background; until then reads go to PostgreSQL only.
  await until(() => lines.some(l => l.msg.startsWith('redis connected')), 'Redis')
  return { app, lines }
}

async function until (check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250 && !check(); i++) await sleep(20)
  if (!check()) throw new Error(`timed out waiting for ${what}`)
}

/** The spans of one trace, once its request span has ended and nothing more came for a moment. */
async function traceOf (traceId: string): Promise<ReadableSpan[]> {
  let count = -1
  for (let i = 0; i < 100; i++) {
    const spans = exporter.getFinishedSpans().filter(s => s.spanContext().traceId === traceId)
    if (spans.length === count && spans.some(isRequestSpan)) return spans
    count = spans.length
    await sleep(20)
  }
  throw new Error(`trace ${traceId} did not complete`)
}

function isRequestSpan (span: ReadableSpan): boolean {
  return span.instrumentationScope.name === '@fastify/otel' && span.kind === SpanKind.SERVER
}

/** Whether `span` descends from `ancestor` within `spans`. */
function descends (span: ReadableSpan, ancestor: ReadableSpan, spans: ReadableSpan[]): boolean {
  const byId = new Map(spans.map(s => [s.spanContext().spanId, s]))
  for (let parent = span.parentSpanContext?.spanId; parent !== undefined; parent = byId.get(parent)?.parentSpanContext?.spanId) {
    if (parent === ancestor.spanContext().spanId) return true
  }
  return false
}

t.test('a request is a server span for its route, with its pg queries and Redis commands under it', async t => {
  const { app, lines } = await tracedApp(t)
  exporter.reset()

  // A caller's W3C traceparent: the request continues its trace.
  const res = await app.inject({
    method: 'GET',
    url: '/api/tags',
    headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`, 'x-request-id': 'traced-tags' }
  })
  t.equal(res.statusCode, 200)
  const spans = await traceOf(TRACE_ID)
  const request = spans.find(isRequestSpan)
  if (request === undefined) throw new Error('no request span')
  t.equal(request.name, 'GET /api/tags', 'named after method and route')
  t.match(request.attributes, {
    'http.route': '/api/tags',
    'http.request.method': 'GET',
    'http.response.status_code': 200
  })
  t.equal(request.parentSpanContext?.spanId, CALLER_SPAN_ID, 'child of the caller\'s span')
  t.equal(request.parentSpanContext?.isRemote, true)
  t.match(request.resource.attributes, { 'service.name': 'gravity-bff', 'service.version': /^\d+\.\d+\.\d+/ })

  const pgSpans = spans.filter(s => s.instrumentationScope.name === '@opentelemetry/instrumentation-pg' && s.name.startsWith('pg.query'))
  const redisSpans = spans.filter(s => s.instrumentationScope.name === '@opentelemetry/instrumentation-ioredis')
  t.ok(pgSpans.length > 0, `pg queries: ${pgSpans.map(s => s.name).join(', ')}`)
  t.ok(redisSpans.length > 0, `Redis commands: ${redisSpans.map(s => s.name).join(', ')}`)
  for (const span of [...pgSpans, ...redisSpans]) {
    t.equal(span.kind, SpanKind.CLIENT, `${span.name} is a client span`)
    t.ok(descends(span, request, spans), `${span.name} is under the request span`)
  }
  t.match(pgSpans[0]?.attributes, { 'db.system.name': 'postgresql', 'db.query.text': /^SELECT .* FROM / }, 'the SQL')
  t.match(redisSpans[0]?.attributes, { 'db.system.name': 'redis' })

  // The request's log line carries its trace and span ids.
  await until(() => lines.some(l => l.reqId === 'traced-tags' && l.msg === 'request completed'), 'the log line')
  const line = lines.find(l => l.reqId === 'traced-tags' && l.msg === 'request completed')
  t.equal(line?.trace_id, TRACE_ID, 'the log line has the trace id')
  t.equal(line?.span_id, request.spanContext().spanId, 'and the request span id')
})

t.test('a route with a parameter, an error status, and a new trace without traceparent', async t => {
  const { app, lines } = await tracedApp(t)
  const user = await registerUser(app)
  const article = await createArticle(app, user)
  exporter.reset()

  const found = await app.inject({ method: 'GET', url: `/api/articles/${article.slug}`, headers: { 'x-request-id': 'traced-article' } })
  t.equal(found.statusCode, 200)
  const missing = await app.inject({ method: 'GET', url: '/api/articles/no-such-article', headers: { 'x-request-id': 'traced-404' } })
  t.equal(missing.statusCode, 404)

  await sleep(50)
  const requests = exporter.getFinishedSpans().filter(isRequestSpan)
  t.equal(requests.length, 2, 'one request span per request')
  const [ok, notFound] = requests
  t.match(ok?.attributes, { 'http.route': '/api/articles/:slug', 'http.response.status_code': 200, 'url.path': `/api/articles/${article.slug}` })
  t.match(notFound?.attributes, { 'http.route': '/api/articles/:slug', 'http.response.status_code': 404 })
  t.equal(ok?.parentSpanContext, undefined, 'no traceparent: a root span')
  t.not(ok?.spanContext().traceId, notFound?.spanContext().traceId, 'a trace per request')

  const spans = await traceOf(notFound?.spanContext().traceId ?? '')
  t.ok(spans.some(s => s.name.startsWith('pg.query')), 'the 404 looked the slug up in PostgreSQL')

  await until(() => lines.some(l => l.reqId === 'traced-404' && l.msg === 'request completed'), 'the log line')
  t.equal(lines.find(l => l.reqId === 'traced-404' && l.msg === 'request completed')?.trace_id, notFound?.spanContext().traceId)
  t.equal(lines.find(l => l.reqId === 'traced-article' && l.msg === 'request completed')?.trace_id, ok?.spanContext().traceId)
  const outside = lines.find(l => l.reqId === undefined)
  t.ok(outside, 'a line outside any request (startup)')
  t.equal(outside?.trace_id, undefined, 'has no trace id')
})

t.test('only requests make traces: none for migrations, the LISTEN session or Redis upkeep', async t => {
  exporter.reset()
  const { app } = await tracedApp(t)
  await sleep(100)
  t.same(exporter.getFinishedSpans().map(s => s.name), [], 'starting the app (migrations, LISTEN, Redis) made no span')
  const res = await app.inject({ method: 'GET', url: '/api/tags' })
  t.equal(res.statusCode, 200)
  await sleep(100)
  const spans = exporter.getFinishedSpans()
  const requests = spans.filter(isRequestSpan)
  t.equal(requests.length, 1)
  t.same(spans.filter(s => s.spanContext().traceId !== requests[0]?.spanContext().traceId).map(s => s.name), [],
    'every span is in the request\'s trace')
})
