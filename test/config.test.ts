import t, { type Test } from 'tap'
import { ConfigError, loadConfig, tracingEnabled } from '../src/config.js'

const SECRET = 'a-secret-of-at-least-32-characters!'

/** loadConfig must throw a ConfigError whose one-line message names the variable. */
function rejects (t: Test, env: Record<string, string | undefined>, name: string) {
  let error: unknown
  try {
    loadConfig(env)
  } catch (err) {
    error = err
  }
  t.ok(error instanceof ConfigError, `${JSON.stringify(env)} → ConfigError`)
  if (error instanceof ConfigError) {
    t.ok(error instanceof Error, 'a ConfigError is an Error')
    t.match(error.message, new RegExp(`\\b${name}\\b`), `the message names ${name}: ${error.message}`)
    t.notMatch(error.message, /\n/, 'one line')
  }
}

t.test('defaults', async t => {
  const config = loadConfig({})
  // Unset: server.ts listens on every interface, or on 127.0.0.1 with the embedded database.
  t.equal(config.HOST, undefined)
  t.match(config, {
    NODE_ENV: 'development',
    PORT: 3000,
    PG_POOL_MAX: 10,
    PG_EMBEDDED_PORT: 54329,
    JWT_EXPIRES_IN: '7d',
    LOG_LEVEL: 'info',
    CORS_ORIGIN: '*',
    BODY_LIMIT: 1048576,
    jwtSecretGenerated: true
  })
  t.equal(config.DATABASE_URL, undefined)
  t.equal(config.REDIS_URL, undefined)
  t.type(config.JWT_SECRET, 'string')
  t.ok(config.JWT_SECRET.length >= 32, 'a generated secret is at least 32 characters')
})

t.test('values are read and coerced', async t => {
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: '8080',
    HOST: '127.0.0.1',
    DATABASE_URL: 'postgres://u:p@db:5432/conduit',
    PG_POOL_MAX: '25',
    PG_EMBEDDED_PORT: '6000',
    REDIS_URL: 'redis://cache:6379',
    JWT_SECRET: SECRET,
    JWT_EXPIRES_IN: '12h',
    LOG_LEVEL: 'warn',
    CORS_ORIGIN: 'https://a.example,https://b.example',
    BODY_LIMIT: '2048'
  })
  t.match(config, {
    NODE_ENV: 'production',
    PORT: 8080,
    HOST: '127.0.0.1',
    DATABASE_URL: 'postgres://u:p@db:5432/conduit',
    PG_POOL_MAX: 25,
    PG_EMBEDDED_PORT: 6000,
    REDIS_URL: 'redis://cache:6379',
    JWT_SECRET: SECRET,
    JWT_EXPIRES_IN: '12h',
    LOG_LEVEL: 'warn',
    CORS_ORIGIN: 'https://a.example,https://b.example',
    BODY_LIMIT: 2048,
    jwtSecretGenerated: false
  })
  t.type(config.PORT, 'number')
})

t.test('postgresql:// and rediss:// are accepted', async t => {
  t.equal(loadConfig({ DATABASE_URL: 'postgresql://localhost/db' }).DATABASE_URL, 'postgresql://localhost/db')
  t.equal(loadConfig({ REDIS_URL: 'rediss://cache:6380' }).REDIS_URL, 'rediss://cache:6380')
})

t.test('PORT 0 (any free port) and 65535 are accepted', async t => {
  t.equal(loadConfig({ PORT: '0' }).PORT, 0)
  t.equal(loadConfig({ PORT: '65535' }).PORT, 65535)
})

t.test('a bad PORT is a ConfigError naming PORT', async t => {
  for (const PORT of ['abc', '65536', '-1', '3000.5', '80a', 'true']) {
    rejects(t, { PORT }, 'PORT')
  }
})

t.test('production without JWT_SECRET is a ConfigError naming JWT_SECRET', async t => {
  rejects(t, { NODE_ENV: 'production' }, 'JWT_SECRET')
  rejects(t, { NODE_ENV: 'production', JWT_SECRET: '' }, 'JWT_SECRET')
  rejects(t, { NODE_ENV: 'production', JWT_SECRET: undefined }, 'JWT_SECRET')
})

t.test('a short JWT_SECRET is rejected, in any environment', async t => {
  for (const NODE_ENV of ['production', 'development', 'test']) {
    rejects(t, { NODE_ENV, JWT_SECRET: 'x'.repeat(31) }, 'JWT_SECRET')
  }
  t.equal(loadConfig({ JWT_SECRET: 'x'.repeat(32) }).JWT_SECRET, 'x'.repeat(32), '32 characters is enough')
})

t.test('a generated secret is flagged, random and only outside production', async t => {
  const a = loadConfig({ NODE_ENV: 'development' })
  const b = loadConfig({ NODE_ENV: 'test' })
  t.equal(a.jwtSecretGenerated, true)
  t.equal(b.jwtSecretGenerated, true)
  t.not(a.JWT_SECRET, b.JWT_SECRET, 'a new secret each time')
  const given = loadConfig({ JWT_SECRET: SECRET })
  t.equal(given.jwtSecretGenerated, false)
  t.equal(given.JWT_SECRET, SECRET)
})

t.test('an empty string is treated as unset', async t => {
  const config = loadConfig({
    NODE_ENV: '',
    PORT: '',
    HOST: '',
    DATABASE_URL: '',
    REDIS_URL: '',
    JWT_SECRET: '',
    LOG_LEVEL: '',
    CORS_ORIGIN: '',
    BODY_LIMIT: ''
  })
  t.equal(config.HOST, undefined)
  t.match(config, { NODE_ENV: 'development', PORT: 3000, LOG_LEVEL: 'info', CORS_ORIGIN: '*', BODY_LIMIT: 1048576, jwtSecretGenerated: true })
  t.equal(config.DATABASE_URL, undefined)
  t.equal(config.REDIS_URL, undefined)
})

t.test('undefined values are treated as unset', async t => {
  const config = loadConfig({ PORT: undefined, DATABASE_URL: undefined })
  t.equal(config.PORT, 3000)
  t.equal(config.DATABASE_URL, undefined)
})

t.test('a bad DATABASE_URL is rejected', async t => {
  for (const DATABASE_URL of ['mysql://localhost/db', 'localhost:5432', 'http://db', ' postgres://db', 'postgres:/db']) {
    rejects(t, { DATABASE_URL }, 'DATABASE_URL')
  }
})

t.test('a bad REDIS_URL is rejected', async t => {
  for (const REDIS_URL of ['http://cache', 'cache:6379', 'memcached://x']) {
    rejects(t, { REDIS_URL }, 'REDIS_URL')
  }
})

t.test('tracing is on with an OTLP endpoint, unless OTEL_SDK_DISABLED', async t => {
  t.equal(tracingEnabled(loadConfig({})), false, 'off by default')
  t.equal(tracingEnabled(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '' })), false, 'an empty endpoint is unset')
  t.equal(tracingEnabled(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })), true)
  t.equal(tracingEnabled(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector/v1/traces' })), true)
  t.equal(tracingEnabled(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })), false)
  rejects(t, { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT')
  rejects(t, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://collector' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
  rejects(t, { OTEL_SDK_DISABLED: 'maybe' }, 'OTEL_SDK_DISABLED')
})

t.test('other bad values name their variable', async t => {
  rejects(t, { NODE_ENV: 'staging' }, 'NODE_ENV')
  rejects(t, { LOG_LEVEL: 'verbose' }, 'LOG_LEVEL')
  rejects(t, { PG_POOL_MAX: '0' }, 'PG_POOL_MAX')
  rejects(t, { PG_POOL_MAX: '501' }, 'PG_POOL_MAX')
  rejects(t, { PG_EMBEDDED_PORT: '0' }, 'PG_EMBEDDED_PORT')
  rejects(t, { BODY_LIMIT: '100' }, 'BODY_LIMIT')
  for (const JWT_EXPIRES_IN of ['0', '-1d', '7 days', '1y', 'forever']) {
    rejects(t, { JWT_EXPIRES_IN }, 'JWT_EXPIRES_IN')
  }
})

t.test('PostgreSQL deadlines: the client-side query deadline must leave statement_timeout (the server) room to act', async t => {
  t.match(loadConfig({}), { PG_QUERY_TIMEOUT_MS: 6000, PG_STATEMENT_TIMEOUT_MS: 5000, PG_CONNECT_TIMEOUT_MS: 3000 }, 'defaults')
  t.match(loadConfig({ PG_QUERY_TIMEOUT_MS: '2000', PG_STATEMENT_TIMEOUT_MS: '0' }), { PG_QUERY_TIMEOUT_MS: 2000, PG_STATEMENT_TIMEOUT_MS: 0 },
    'statement_timeout 0: none sent (behind a stock PgBouncer)')
  rejects(t, { PG_QUERY_TIMEOUT_MS: '5000' }, 'PG_QUERY_TIMEOUT_MS')
  rejects(t, { PG_QUERY_TIMEOUT_MS: '1000', PG_STATEMENT_TIMEOUT_MS: '2000' }, 'PG_QUERY_TIMEOUT_MS')
  rejects(t, { PG_QUERY_TIMEOUT_MS: '50' }, 'PG_QUERY_TIMEOUT_MS')
  rejects(t, { PG_STATEMENT_TIMEOUT_MS: '-1' }, 'PG_STATEMENT_TIMEOUT_MS')
  rejects(t, { PG_CONNECT_TIMEOUT_MS: '0' }, 'PG_CONNECT_TIMEOUT_MS')
  rejects(t, { PG_CONNECT_TIMEOUT_MS: 'soon' }, 'PG_CONNECT_TIMEOUT_MS')
})

t.test('JWT_EXPIRES_IN takes ms, s, m, h, d or a bare number', async t => {
  for (const value of ['500ms', '30s', '15m', '12h', '7d', '3600']) {
    t.equal(loadConfig({ JWT_EXPIRES_IN: value }).JWT_EXPIRES_IN, value)
  }
})

t.test('unknown variables are ignored', async t => {
  const config = loadConfig({ PATH: '/usr/bin', HOME: '/root', SOMETHING_ELSE: 'x' })
  t.equal(config.PORT, 3000)
  t.notOk('PATH' in config)
})

t.test('the first of several problems is reported', async t => {
  rejects(t, { PORT: 'abc', LOG_LEVEL: 'verbose' }, '(PORT|LOG_LEVEL)')
})

t.test('the given env object is not modified', async t => {
  const env = { PORT: '8080', HOST: '' }
  loadConfig(env)
  t.same(env, { PORT: '8080', HOST: '' })
})

t.test('Infinity, 1e999 and NaN are not numbers any variable takes', async t => {
  for (const value of ['Infinity', '-Infinity', '1e999', 'NaN']) {
    for (const name of ['PG_POOL_MAX', 'PORT', 'CACHE_HOT_MAX_BYTES', 'BODY_LIMIT']) {
      t.throws(() => loadConfig({ [name]: value }), { name: 'Error', message: new RegExp(`^${name} `) }, `${name}=${value}`)
    }
  }
})

t.test('protection: rate limits, TRUST_PROXY and DOCS default to on, 600/10/60 a minute, no proxy trusted', async t => {
  t.match(loadConfig({}), {
    RATE_LIMIT_MAX: 600, AUTH_RATE_LIMIT_MAX: 10, WRITE_RATE_LIMIT_MAX: 60, TRUST_PROXY: 'false', trustProxy: false, DOCS: 'on'
  })
  t.match(loadConfig({ RATE_LIMIT_MAX: '0', AUTH_RATE_LIMIT_MAX: '0', WRITE_RATE_LIMIT_MAX: '0', DOCS: 'off' }), {
    RATE_LIMIT_MAX: 0, AUTH_RATE_LIMIT_MAX: 0, WRITE_RATE_LIMIT_MAX: 0, DOCS: 'off'
  }, '0 (off) is a value')
  t.equal(loadConfig({ RATE_LIMIT_MAX: '1000000000' }).RATE_LIMIT_MAX, 1e9)
  for (const name of ['RATE_LIMIT_MAX', 'AUTH_RATE_LIMIT_MAX', 'WRITE_RATE_LIMIT_MAX']) {
    for (const value of ['-1', '1.5', 'ten', '1000000001', 'Infinity']) rejects(t, { [name]: value }, name)
  }
  rejects(t, { DOCS: 'yes' }, 'DOCS')
})

t.test('TRUST_PROXY: false, true, or a list of addresses, CIDRs and range names', async t => {
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.1' }).trustProxy, ['10.0.0.1'])
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.1,::1,fd00::/8,loopback,linklocal,uniquelocal' }).trustProxy,
    ['10.0.0.0/8', '192.168.1.1', '::1', 'fd00::/8', 'loopback', 'linklocal', 'uniquelocal'])
  for (const TRUST_PROXY of ['1', '2', 'yes', '10.0.0', '10.0.0.0/33', '::1/129', '10.0.0.1/8/8', 'example.com', '10.0.0.1,,10.0.0.2', '10.0.0.0/x']) {
    rejects(t, { TRUST_PROXY }, 'TRUST_PROXY')
  }
  t.throws(() => loadConfig({ TRUST_PROXY: '1' }), { message: /hop count/ }, 'a hop count says why not')
})
