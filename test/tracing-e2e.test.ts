import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { copyFile, mkdtemp, readFile, rm, symlink } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { redisPrefix, SHARED_REDIS_URL } from './cache/cache-helper.js'
import { createTestDatabase } from './helper.js'

// The built service as it is deployed (`node dist/server.js`), exporting to an OTLP/HTTP
// receiver this test runs; and, without an endpoint, loading nothing of OpenTelemetry.

const ROOT = new URL('..', import.meta.url).pathname
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const CALLER_SPAN_ID = '00f067aa0ba902b7'
// Lists, when the process exits, the CommonJS modules it loaded (every OpenTelemetry package is one).
const RECORD_MODULES = 'data:text/javascript,' + encodeURIComponent(`
import { createRequire } from 'node:module'
const cache = createRequire(process.cwd() + '/').cache
process.on('exit', () => { process.stderr.write('loaded-modules ' + JSON.stringify(Object.keys(cache)) + '\\n') })
`)
// The SDK, the instrumentations and the module hook; not @opentelemetry/api, the no-op API that
// prom-client loads for its exemplars (it does nothing until an SDK registers itself).
const OTEL_MODULE = /\/node_modules\/(@opentelemetry\/(?!api\/)|@fastify\/otel|import-in-the-middle)/

// A build and three service starts: on a loaded machine, past the default 180 s.
t.setTimeout(360_000)

// Built into a directory of its own (laid out like the repository), so that another test
// building dist/ at the same time cannot hand this one half-written files.
const built = await mkdtemp(join(tmpdir(), 'gravity-tracing-'))
t.teardown(() => rm(built, { recursive: true, force: true }))
await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', join(built, 'dist')], { cwd: ROOT })
await copyFile(join(ROOT, 'package.json'), join(built, 'package.json'))
await symlink(join(ROOT, 'node_modules'), join(built, 'node_modules'))
await symlink(join(ROOT, 'migrations'), join(built, 'migrations'))
const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }

interface OtlpValue { stringValue?: string, intValue?: string | number }
interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  attributes: { key: string, value: OtlpValue }[]
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: { key: string, value: OtlpValue }[] }
    scopeSpans: { scope: { name: string }, spans: OtlpSpan[] }[]
  }[]
}

/** A small OTLP/HTTP receiver (JSON encoding) on a free loopback port. */
async function receiver (t: Test) {
  const exports: OtlpExport[] = []
  const paths: string[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`)
      if (req.url === '/v1/traces') exports.push(JSON.parse(Buffer.concat(chunks).toString()) as OtlpExport)
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const spans = () => exports.flatMap(e => e.resourceSpans.flatMap(r => r.scopeSpans.flatMap(s => s.spans.map(span => ({ ...span, scope: s.scope.name, resource: r.resource })))))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, paths }
}

/** Starts the built service; resolves once it listens, with its URL and what it writes. */
async function startService (t: Test, env: Record<string, string>) {
  const databaseUrl = await createTestDatabase(t)
  const child = spawn(process.execPath, ['--import', RECORD_MODULES, join(built, 'dist/server.js')], {
    cwd: built,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      CACHE: 'off',
      LOG_LEVEL: 'info',
      JWT_SECRET: 'tracing-e2e-test-secret-0123456789abcdef',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const output = { stdout: '', stderr: '' }
  child.stdout.setEncoding('utf8').on('data', (data: string) => { output.stdout += data })
  child.stderr.setEncoding('utf8').on('data', (data: string) => { output.stderr += data })
  const lines = () => output.stdout.split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line) as Record<string, unknown>)
  const exited = once(child, 'exit') as Promise<[number | null]>
  for (let i = 0; i < 600; i++) {
    const api = lines().find(line => typeof line.api === 'string')?.api as string | undefined
    if (api !== undefined) {
      return {
        api,
        lines,
        /** SIGTERM; resolves with the exit code and the modules the process had loaded. */
        stop: async () => {
          child.kill('SIGTERM')
          const [code] = await exited
          const loaded = /^loaded-modules (.*)$/m.exec(output.stderr)?.[1]
          return { code, loaded: loaded === undefined ? undefined : JSON.parse(loaded) as string[] }
        }
      }
    }
    if (child.exitCode !== null) break
    await sleep(100)
  }
  throw new Error(`the service did not start:\n${output.stdout}\n${output.stderr}`)
}

t.test('OTEL_EXPORTER_OTLP_ENDPOINT set: the request and its queries reach the receiver', async t => {
  const otlp = await receiver(t)
  const service = await startService(t, {
    CACHE: 'on',
    REDIS_URL: SHARED_REDIS_URL,
    REDIS_PREFIX: redisPrefix(t).base,
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'conduit-eu',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging',
    OTEL_FASTIFY_IGNORE_PATHS: '/health',
    // Nothing is exported on a timer during the test: what arrives was flushed when the server closed.
    OTEL_BSP_SCHEDULE_DELAY: '600000'
  })
  // Redis connects in the background; until then reads go to PostgreSQL only.
  for (let i = 0; i < 250 && !service.lines().some(l => String(l.msg).startsWith('redis connected')); i++) await sleep(20)
  const res = await fetch(`${service.api}/tags`, {
    headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`, 'x-request-id': 'e2e-traced' }
  })
  t.equal(res.status, 200)
  t.equal((await fetch(new URL('/health', service.api))).status, 200)
  await sleep(200)
  t.same(otlp.spans(), [], 'nothing exported yet (batched)')

  const { code, loaded } = await service.stop()
  t.equal(code, 0, 'exits 0 on SIGTERM')
  t.ok(loaded?.some(path => /@opentelemetry\/sdk-node\//.test(path)), 'the SDK was loaded')

  t.ok(otlp.paths.includes('POST /v1/traces application/json'), `OTLP/HTTP JSON to /v1/traces: ${otlp.paths.join(', ')}`)
  const spans = otlp.spans().filter(span => span.traceId === TRACE_ID)
  const request = spans.find(span => span.name === 'GET /api/tags')
  t.ok(request, `the request span, in the caller's trace: ${spans.map(s => s.name).join(', ')}`)
  t.equal(request?.parentSpanId, CALLER_SPAN_ID, 'its parent is the caller\'s span')
  t.equal(request?.kind, 2, 'a server span')
  t.match(Object.fromEntries(request?.attributes.map(a => [a.key, a.value]) ?? []), {
    'http.route': { stringValue: '/api/tags' },
    'http.request.method': { stringValue: 'GET' },
    'http.response.status_code': { intValue: /^200$/ }
  })
  t.ok(spans.some(span => span.scope === '@opentelemetry/instrumentation-pg' && span.name.startsWith('pg.query')), 'its pg query')
  t.ok(spans.some(span => span.scope === '@opentelemetry/instrumentation-ioredis'), 'and its Redis commands')
  t.notOk(otlp.spans().some(span => span.name.includes('/health')), 'no span for an ignored path')
  const resource = Object.fromEntries(request?.resource.attributes.map(a => [a.key, a.value.stringValue]) ?? [])
  t.match(resource, { 'service.name': 'conduit-eu', 'deployment.environment.name': 'staging', 'service.version': version },
    'the resource: the standard variables, and the package version')

  const line = service.lines().find(l => l.reqId === 'e2e-traced' && l.msg === 'request completed')
  t.equal(line?.trace_id, TRACE_ID, 'the log line has the trace id')
  t.equal(line?.span_id, request?.spanId, 'and the request span id')
})

t.test('a collector that does not answer does not hold up shutdown', async t => {
  const silent = createServer(() => {})
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  t.teardown(() => { silent.closeAllConnections(); silent.close() })
  const service = await startService(t, {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
    OTEL_BSP_SCHEDULE_DELAY: '600000'
  })
  t.equal((await fetch(`${service.api}/tags`)).status, 200)
  const { code } = await service.stop()
  t.equal(code, 0, 'exits 0, within the shutdown deadline')
})

t.test('no OTLP endpoint: nothing of OpenTelemetry is loaded', async t => {
  const service = await startService(t, {})
  t.equal((await fetch(`${service.api}/tags`)).status, 200)
  const { code, loaded } = await service.stop()
  t.equal(code, 0)
  const line = service.lines().find(l => l.msg === 'request completed')
  t.ok(line, 'the request was logged')
  t.equal(line?.trace_id, undefined, 'without a trace id')
  t.ok(loaded?.some(path => path.includes('/node_modules/pg/')), 'the module list is there (pg was loaded)')
  t.same(loaded?.filter(path => OTEL_MODULE.test(path)), [], 'no OpenTelemetry SDK, instrumentation or hook module')
})
