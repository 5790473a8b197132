import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import app from '../src/app.js'
import { serverOptions } from '../src/server-options.js'
import { buildWithDatabase, createTestDatabase, testConfig } from './helper.js'

// What Node's HTTP parser and Fastify's router refuse before any route runs, and what arrives
// while the server closes, answered over a real socket in the Conduit error shape.

interface RawResponse { status: number, headers: Record<string, string>, body: string }

function parse (raw: string): RawResponse[] {
  const responses: RawResponse[] = []
  let rest = raw
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n')
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n')
    const headers = Object.fromEntries(lines.map(line => {
      const colon = line.indexOf(':')
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]
    }))
    const length = Number(headers['content-length'] ?? 0)
    const body = rest.slice(end + 4, end + 4 + length)
    responses.push({ status: Number(statusLine?.split(' ')[1]), headers, body })
    rest = rest.slice(end + 4 + length)
  }
  return responses
}

async function open (app: FastifyInstance): Promise<Socket> {
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening')
  const socket = connect(address.port, '127.0.0.1')
  await once(socket, 'connect')
  return socket
}

/** Writes `chunks` (with a pause before each after the first) and reads until the server closes. */
async function exchange (app: FastifyInstance, chunks: string[], pauseMs = 0): Promise<RawResponse[]> {
  const socket = await open(app)
  let raw = ''
  socket.setEncoding('latin1')
  socket.on('data', data => { raw += data })
  socket.on('error', () => {})
  const closed = once(socket, 'close')
  for (const [i, chunk] of chunks.entries()) {
    if (i > 0 && pauseMs > 0) await sleep(pauseMs)
    if (!socket.destroyed) socket.write(chunk)
  }
  await closed
  return parse(raw)
}

function conduit (t: Test, response: RawResponse | undefined, status: number, field: string): void {
  t.equal(response?.status, status, `status ${status}`)
  t.match(response?.headers['content-type'], /^application\/json/)
  let body: unknown
  try {
    body = JSON.parse(response?.body ?? '')
  } catch {
    t.fail(`not JSON: ${response?.body}`)
    return
  }
  const messages = (body as { errors?: Record<string, unknown> }).errors?.[field]
  t.ok(Array.isArray(messages) && messages.length > 0 && messages.every(m => typeof m === 'string'),
    `errors.${field} is a list of messages (${response?.body})`)
  t.same(Object.keys(body as object), ['errors'], 'nothing but errors')
}

t.test('refused before routing, in the Conduit error shape', async t => {
  const { app } = await buildWithDatabase(t, {}, defaults => ({ ...defaults, requestTimeout: 400, http: { ...defaults.http, connectionsCheckingInterval: 100 } }))
  await app.listen({ port: 0, host: '127.0.0.1' })

  t.test('malformed HTTP: 400', async t => {
    conduit(t, (await exchange(app, ['NOT HTTP AT ALL\r\n\r\n']))[0], 400, 'request')
    conduit(t, (await exchange(app, ['GET /api/tags HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n']))[0], 400, 'request')
  })

  t.test('headers over the size limit (a 100 KB token): 431', async t => {
    const token = 'x'.repeat(100 * 1024)
    conduit(t, (await exchange(app, [`GET /api/user HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${token}\r\n\r\n`]))[0], 431, 'headers')
  })

  t.test('a client too slow to send its request: 408', async t => {
    const [response] = await exchange(app, ['GET /api/tags HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n'], 1500)
    conduit(t, response, 408, 'request')
  })

  t.test('a path parameter over the router limit: 414', async t => {
    const res = await app.inject({ url: `/api/profiles/${'a'.repeat(400)}` })
    t.equal(res.statusCode, 414)
    t.same(Object.keys(res.json()), ['errors'])
    t.ok(Array.isArray(res.json().errors.url))
  })

  t.test('an Expect the server cannot meet: 417', async t => {
    conduit(t, (await exchange(app, ['GET /api/tags HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n']))[0], 417, 'expect')
  })

  t.test('HTTP/1.1 without Host is served (nothing is routed by host), not a bare 400', async t => {
    const [response] = await exchange(app, ['GET /api/tags HTTP/1.1\r\nConnection: close\r\n\r\n'])
    t.equal(response?.status, 200)
    t.same(JSON.parse(response?.body ?? ''), { tags: [] })
  })

  t.test('a URL that does not decode: 400', async t => {
    const res = await app.inject({ url: '/api/profiles/%E0%A4%A' })
    t.equal(res.statusCode, 400)
    t.same(Object.keys(res.json()), ['errors'])
  })
})

t.test('a request that arrives while the server closes: Conduit-shaped 503 with Retry-After', async t => {
  const config = testConfig()
  const server = Fastify(serverOptions(config))
  await server.register(app, { config: { ...config, DATABASE_URL: await createTestDatabase(t) } })
  // Holds one request in flight, so the close waits for it while the next one arrives.
  server.get('/test/slow', async () => { await sleep(600); return { slow: true } })
  await server.listen({ port: 0, host: '127.0.0.1' })
  const socket = await open(server)
  let raw = ''
  socket.setEncoding('latin1')
  socket.on('data', data => { raw += data })
  const closedSocket = once(socket, 'close')
  socket.write('GET /test/slow HTTP/1.1\r\nHost: x\r\n\r\n')
  await sleep(150)
  const closing = server.close()
  await sleep(100)
  socket.write('GET /api/tags HTTP/1.1\r\nHost: x\r\n\r\n')
  await closing
  await closedSocket
  const [slow, refused] = parse(raw)
  t.equal(slow?.status, 200, 'the request in flight finishes')
  conduit(t, refused, 503, 'server')
  t.equal(refused?.headers['retry-after'], '1')
  t.equal(refused?.headers.connection, 'close')
})
