import { Writable } from 'node:stream'
import Fastify from 'fastify'
import t from 'tap'
import app from '../../src/app.js'
import { serverOptions } from '../../src/server-options.js'
import { createTestDatabase, testConfig } from '../helper.js'

// SLOW_QUERY_MS: a query at least that slow is one warn line with its name (the head of its
// parameterised SQL) and duration, never its parameters; faster ones say nothing.

interface LogLine { level: number, msg: string, query?: string, durationMs?: number }

t.test('slow queries are logged at warn without their parameters; fast ones are not', async t => {
  const lines: LogLine[] = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line) as LogLine)
      done()
    }
  })
  const config = testConfig({ LOG_LEVEL: 'warn', SLOW_QUERY_MS: '40', CACHE: 'off' })
  const defaults = serverOptions(config)
  const server = Fastify({ ...defaults, logger: { ...(defaults.logger as object), stream } })
  await server.register(app, { config: { ...config, DATABASE_URL: await createTestDatabase(t) } })
  await server.ready()
  t.teardown(() => server.close())

  await server.pg.query('SELECT $1::text AS fast', ['fast-secret'])
  await server.pg.query('SELECT pg_sleep(0.08), $1::text AS slow', ['slow-secret'])
  const client = await server.pg.connect()
  try {
    await client.query({ name: 'sleepy-named', text: 'SELECT pg_sleep(0.06), $1::text', values: ['named-secret'] })
  } finally {
    client.release()
  }
  const slow = lines.filter(line => line.msg === 'slow query')
  t.equal(slow.length, 2, 'the two slow queries, not the fast one')
  t.match(slow[0], { level: 40, query: 'SELECT pg_sleep(0.08), $1::text AS slow' })
  t.ok((slow[0]?.durationMs ?? 0) >= 40, 'with its duration')
  t.match(slow[1], { query: 'sleepy-named' }, 'a named query by its name')
  t.notMatch(JSON.stringify(lines), /secret/, 'never a parameter')
})
