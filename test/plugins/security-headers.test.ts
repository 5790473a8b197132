import t from 'tap'
import { auth, build, registerUser } from '../helper.js'
import { assertError } from '../users-helper.js'

// Helmet's headers on every response; /docs with a CSP its Swagger UI works under; no cache may
// keep a response that carries a token; DOCS=off leaves no /docs at all.
t.jobs = 3

const API_CSP = "default-src 'none';frame-ancestors 'none'"
const SECURITY_HEADERS = {
  'content-security-policy': API_CSP,
  'cross-origin-resource-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY'
}

t.test('API responses carry the security headers, errors included; no HSTS', async t => {
  const app = await build(t)
  const user = await registerUser(app)
  const responses = {
    'GET /api/tags (200)': await app.inject({ url: '/api/tags' }),
    'GET /api/user (200)': await app.inject({ url: '/api/user', headers: auth(user) }),
    'GET /api/user without a token (401)': await app.inject({ url: '/api/user' }),
    'GET /api/articles/none (404)': await app.inject({ url: '/api/articles/none' }),
    'GET /nowhere (404)': await app.inject({ url: '/nowhere' }),
    'POST /api/users with no body (422)': await app.inject({ method: 'POST', url: '/api/users', payload: {} }),
    'GET /health': await app.inject({ url: '/health' })
  }
  for (const [what, res] of Object.entries(responses)) {
    t.match(res.headers, SECURITY_HEADERS, what)
    t.equal(res.headers['strict-transport-security'], undefined, `${what}: no HSTS (the TLS terminator's to send)`)
    t.equal(res.headers['x-powered-by'], undefined)
  }
  const limited = await build(t, { RATE_LIMIT_MAX: '1' })
  await limited.inject({ url: '/api/tags' })
  const res = await limited.inject({ url: '/api/tags' })
  t.equal(res.statusCode, 429)
  t.match(res.headers, SECURITY_HEADERS, 'a 429 too')
})

t.test('/docs: the Swagger UI page, its static files and the document load, under a CSP of their own', async t => {
  const app = await build(t)
  const page = await app.inject({ url: '/docs' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, '<div id="swagger-ui"></div>')
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, "default-src 'self'", 'the page may load from its own origin')
  t.match(csp, "script-src 'self';", 'scripts only from the origin (no inline script)')
  t.match(csp, "frame-ancestors 'self'")
  t.notMatch(csp, 'upgrade-insecure-requests', 'assets still load over plain http')
  t.notMatch(csp, 'unsafe-eval')
  const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map(match => match[1] as string)
  t.ok(assets.some(asset => asset.endsWith('swagger-ui-bundle.js')), 'the page loads the bundle')
  for (const asset of assets) {
    const url = new URL(asset, 'http://localhost/docs').pathname
    const res = await app.inject({ url })
    t.equal(res.statusCode, 200, `${url} is served`)
    t.ok(res.body.length > 0, `${url} is not empty`)
    t.equal(res.headers['content-security-policy'], page.headers['content-security-policy'], `${url}: the docs CSP`)
  }
  const document = await app.inject({ url: '/docs/json' })
  t.equal(document.statusCode, 200)
  t.match(document.json(), { openapi: /^3\.1/ })
  t.match(page.headers, { 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' }, 'the other headers as on the API')
})

t.test('DOCS=off: no /docs routes (404 in the Conduit shape); the API is unaffected', async t => {
  const app = await build(t, { DOCS: 'off' })
  for (const url of ['/docs', '/docs/', '/docs/json', '/docs/yaml', '/docs/static/swagger-ui-bundle.js', '/docs/static/index.html']) {
    const res = await app.inject({ url })
    assertError(t, res, 404, 'route', `GET ${url} not found`)
  }
  t.equal((await app.inject({ url: '/api/tags' })).statusCode, 200)
  t.equal((await app.inject({ url: '/health' })).statusCode, 200)
})

t.test('responses that carry a token are Cache-Control: no-store; others are not', async t => {
  const app = await build(t)
  const register = await app.inject({
    method: 'POST', url: '/api/users', payload: { user: { username: 'nostore', email: 'nostore@example.com', password: 'password123' } }
  })
  t.equal(register.statusCode, 201)
  const user = { token: register.json().user.token as string }
  const withToken = {
    'POST /api/users': register,
    'POST /api/users/login': await app.inject({
      method: 'POST', url: '/api/users/login', payload: { user: { email: 'nostore@example.com', password: 'password123' } }
    }),
    'GET /api/user': await app.inject({ url: '/api/user', headers: auth(user) }),
    'PUT /api/user': await app.inject({ method: 'PUT', url: '/api/user', headers: auth(user), payload: { user: { bio: 'hi' } } })
  }
  for (const [what, res] of Object.entries(withToken)) {
    t.ok(res.statusCode < 300, `${what}: ${res.statusCode}`)
    t.ok(typeof res.json().user.token === 'string', `${what} carries a token`)
    t.equal(res.headers['cache-control'], 'no-store', `${what}: no-store`)
  }
  // Reads without a token are cacheable for a short while (plugins/http-caching.ts), not no-store.
  t.match((await app.inject({ url: '/api/tags' })).headers['cache-control'], /^public, max-age=\d+/, 'GET /api/tags: a public read')
  t.match((await app.inject({ url: '/api/profiles/nostore' })).headers['cache-control'], /^public, max-age=\d+/, 'GET /api/profiles/:username too')
})
