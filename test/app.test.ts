import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { createSigner } from 'fast-jwt'
import t from 'tap'
import { addComment, assertError, buildWithDatabase, favorite, jsonHeaders, queryDatabase } from './articles-helper.js'
import { auth, build, createArticle, registerUser } from './helper.js'

// The secret helper.ts's testConfig gives the app.
const SECRET = 'test-secret-'.padEnd(40, 'x')

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

t.test('request bodies', async t => {
  const app = await build(t, { BODY_LIMIT: '2048' })
  const jake = await registerUser(app, 'jake')

  t.test('malformed JSON: 400 with the errors shape', async t => {
    for (const payload of ['{"user":', '{user: 1}', 'not json', '[1, 2,]']) {
      const res = await app.inject({
        method: 'POST', url: '/api/users', headers: { 'content-type': 'application/json' }, payload
      })
      assertError(t, res, 400, 'body')
    }
  })

  t.test('prototype poisoning: 400 with the errors shape', async t => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/articles',
      headers: jsonHeaders(jake),
      payload: '{"article":{"title":"t","description":"d","body":"b"},"__proto__":{"admin":true}}'
    })
    assertError(t, res, 400)
  })

  t.test('body over BODY_LIMIT: 413 with the errors shape', async t => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/articles',
      headers: auth(jake),
      payload: { article: { title: 'Big', description: 'Big', body: 'x'.repeat(4096) } }
    })
    assertError(t, res, 413, 'body')
    const small = await app.inject({
      method: 'POST',
      url: '/api/articles',
      headers: auth(jake),
      payload: { article: { title: 'Small', description: 'Small', body: 'x'.repeat(1024) } }
    })
    t.equal(small.statusCode, 201, 'under the limit is fine')
  })

  t.test('unsupported content type: 415 with the errors shape', async t => {
    for (const contentType of ['application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x']) {
      const res = await app.inject({
        method: 'POST', url: '/api/users/login', headers: { 'content-type': contentType }, payload: 'user=jake'
      })
      assertError(t, res, 415, 'body')
    }
  })

  t.test('text/plain (a JSON-only API): 415 with the errors shape', async t => {
    for (const payload of ['user=jake', JSON.stringify({ user: { email: jake.email, password: jake.password } })]) {
      const res = await app.inject({
        method: 'POST', url: '/api/users/login', headers: { 'content-type': 'text/plain' }, payload
      })
      assertError(t, res, 415, 'body')
    }
  })

  t.test('JSON content type with a charset: accepted', async t => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/users/login',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify({ user: { email: jake.email, password: jake.password } })
    })
    t.equal(res.statusCode, 200)
  })

  t.test('JSON content type with an empty body on follow, favorite and delete: works', async t => {
    const jane = await registerUser(app, 'jane')
    const article = await createArticle(app, jake, { title: 'Empty bodies' })
    const cases: Array<[string, string, number]> = [
      ['POST', '/api/profiles/jake/follow', 200],
      ['DELETE', '/api/profiles/jake/follow', 200],
      ['POST', `/api/articles/${article.slug}/favorite`, 200],
      ['DELETE', `/api/articles/${article.slug}/favorite`, 200]
    ]
    for (const [method, url, status] of cases) {
      for (const payload of [undefined, '', '  \n']) {
        const res = await app.inject({
          method: method as 'POST' | 'DELETE', url, headers: jsonHeaders(jane), ...(payload === undefined ? {} : { payload })
        })
        t.equal(res.statusCode, status, `${method} ${url} with ${JSON.stringify(payload)}: ${res.body}`)
      }
    }
    const del = await app.inject({ method: 'DELETE', url: `/api/articles/${article.slug}`, headers: jsonHeaders(jake), payload: '' })
    t.equal(del.statusCode, 204)
  })

  t.test('an empty body where one is required: 422, not a crash', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/articles', headers: jsonHeaders(jake) })
    assertError(t, res, 422, 'article')
  })
})

t.test('unknown routes: 404 with the errors shape', async t => {
  const app = await build(t)
  for (const [method, url] of [['GET', '/api/nope'], ['GET', '/nope'], ['PATCH', '/api/articles'], ['POST', '/api/tags']]) {
    const res = await app.inject({ method: method as 'GET', url })
    assertError(t, res, 404, 'route')
  }
  const withQuery = await app.inject({ url: '/api/nope?token=secret' })
  assertError(t, withQuery, 404, 'route')
  t.notMatch(withQuery.body, 'secret', 'the query string is not echoed')
})

t.test('authentication header forms', async t => {
  const app = await build(t)
  const jake = await registerUser(app, 'jake')
  const article = await createArticle(app, jake, { title: 'Optional auth' })
  const sub = JSON.parse(Buffer.from(jake.token.split('.')[1] as string, 'base64url').toString()).sub as string
  const now = Math.floor(Date.now() / 1000)
  const expired = createSigner({ key: SECRET })({ sub, iat: now - 120, exp: now - 60 })
  const otherSecret = createSigner({ key: 'another-secret-'.padEnd(40, 'y'), expiresIn: 60_000 })({ sub })
  const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${
    Buffer.from(JSON.stringify({ sub, exp: now + 600 })).toString('base64url')}.`

  t.test('optional-auth routes: no token is anonymous, a bad one is 401', async t => {
    for (const url of ['/api/articles', `/api/articles/${article.slug}`, `/api/articles/${article.slug}/comments`, '/api/profiles/jake']) {
      t.equal((await app.inject({ url })).statusCode, 200, `${url} anonymous`)
      t.equal((await app.inject({ url, headers: auth(jake) })).statusCode, 200, `${url} authenticated`)
      for (const token of ['garbage', expired, otherSecret, unsigned]) {
        assertError(t, await app.inject({ url, headers: { authorization: `Token ${token}` } }), 401, 'token')
      }
    }
  })

  t.test('expired token: 401 saying so', async t => {
    const res = await app.inject({ url: '/api/user', headers: { authorization: `Token ${expired}` } })
    assertError(t, res, 401, 'token')
    t.match(res.json().errors.token[0], /expired/)
  })

  t.test('forged tokens: 401', async t => {
    for (const token of [otherSecret, unsigned]) {
      const res = await app.inject({
        method: 'POST', url: '/api/articles', headers: { authorization: `Token ${token}` }, payload: { article: { title: 't', description: 'd', body: 'b' } }
      })
      assertError(t, res, 401, 'token')
    }
  })

  t.equal((await app.inject({ url: '/api/user', headers: { authorization: `Token ${jake.token}` } })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/user', headers: { authorization: `Bearer ${jake.token}` } })).statusCode, 200)
  assertError(t, await app.inject({ url: '/api/user' }), 401, 'token')
  for (const authorization of ['Token', 'Token ', jake.token, `Basic ${jake.token}`, `Token ${jake.token}x`, 'Token a.b.c']) {
    assertError(t, await app.inject({ url: '/api/user', headers: { authorization } }), 401, 'token')
    assertError(t, await app.inject({ url: '/api/articles', headers: { authorization } }), 401, 'token')
  }
})

t.test('a valid token whose user no longer exists: 401 on writes, not 500', async t => {
  const { app, databaseUrl } = await buildWithDatabase(t)
  const jake = await registerUser(app, 'jake')
  const ghost = await registerUser(app, 'ghost')
  const article = await createArticle(app, jake, { title: 'Haunted' })
  await queryDatabase(databaseUrl, 'DELETE FROM users WHERE username = $1', ['ghost'])

  const create = await app.inject({
    method: 'POST', url: '/api/articles', headers: auth(ghost), payload: { article: { title: 't', description: 'd', body: 'b' } }
  })
  assertError(t, create, 401, 'token')
  assertError(t, await favorite(app, ghost, article.slug), 401, 'token')
  const comment = await app.inject({
    method: 'POST', url: `/api/articles/${article.slug}/comments`, headers: auth(ghost), payload: { comment: { body: 'boo' } }
  })
  assertError(t, comment, 401, 'token')
  t.equal((await app.inject({ url: `/api/articles/${article.slug}` })).json().article.favoritesCount, 0)
  t.same((await app.inject({ url: `/api/articles/${article.slug}/comments` })).json(), { comments: [] })
})

t.test('text PostgreSQL cannot store (NUL): 4xx with the errors shape, not 500', async t => {
  const app = await build(t)
  const jake = await registerUser(app, 'jake')
  const article = await createArticle(app, jake, { title: 'Clean' })
  await addComment(app, jake, article.slug, 'clean comment')
  const check = (res: Awaited<ReturnType<typeof app.inject>>, what: string) => {
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `${what}: 4xx (${res.statusCode})`)
    assertError(t, res, res.statusCode)
  }
  const nul = 'a\u0000b'
  check(await app.inject({
    method: 'POST', url: '/api/articles', headers: auth(jake), payload: { article: { title: nul, description: 'd', body: 'b' } }
  }), 'title')
  check(await app.inject({
    method: 'POST', url: '/api/articles', headers: auth(jake), payload: { article: { title: 't', description: 'd', body: nul } }
  }), 'body')
  check(await app.inject({
    method: 'POST', url: '/api/articles', headers: auth(jake), payload: { article: { title: 't', description: 'd', body: 'b', tagList: [nul] } }
  }), 'tag')
  check(await app.inject({
    method: 'PUT', url: `/api/articles/${article.slug}`, headers: auth(jake), payload: { article: { description: nul } }
  }), 'update')
  check(await app.inject({
    method: 'POST', url: `/api/articles/${article.slug}/comments`, headers: auth(jake), payload: { comment: { body: nul } }
  }), 'comment')
  check(await app.inject({ url: '/api/articles/a%00b' }), 'slug')
  check(await app.inject({ url: '/api/articles?tag=a%00b' }), 'tag filter')
  check(await app.inject({ url: '/api/articles?author=a%00b' }), 'author filter')
  t.equal((await app.inject({ url: `/api/articles/${article.slug}` })).json().article.description, 'A description', 'unchanged')
})

t.test('CORS', async t => {
  t.test('any origin by default; preflight allows authorization and content-type', async t => {
    const app = await build(t)
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/api/articles',
      headers: {
        origin: 'http://localhost:4200',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type'
      }
    })
    t.equal(res.statusCode, 204)
    t.equal(res.headers['access-control-allow-origin'], '*')
    const allowed = String(res.headers['access-control-allow-headers']).toLowerCase().split(/\s*,\s*/)
    t.ok(allowed.includes('authorization'), `allows authorization: ${allowed}`)
    t.ok(allowed.includes('content-type'), `allows content-type: ${allowed}`)
    const methods = String(res.headers['access-control-allow-methods']).split(/\s*,\s*/)
    for (const method of ['GET', 'POST', 'PUT', 'DELETE']) t.ok(methods.includes(method), `allows ${method}`)

    const preflightItem = await app.inject({
      method: 'OPTIONS',
      url: '/api/articles/some-slug/favorite',
      headers: { origin: 'http://localhost:4200', 'access-control-request-method': 'DELETE' }
    })
    t.equal(preflightItem.statusCode, 204)

    const get = await app.inject({ url: '/api/tags', headers: { origin: 'http://localhost:4200' } })
    t.equal(get.statusCode, 200)
    t.equal(get.headers['access-control-allow-origin'], '*')
    t.match(String(get.headers['access-control-expose-headers']).toLowerCase(), 'x-request-id')
  })

  t.test('CORS_ORIGIN restricts origins', async t => {
    const app = await build(t, { CORS_ORIGIN: 'https://app.example.com, https://admin.example.com' })
    const preflight = (origin: string) => app.inject({
      method: 'OPTIONS',
      url: '/api/articles',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type'
      }
    })

    for (const origin of ['https://app.example.com', 'https://admin.example.com']) {
      const res = await preflight(origin)
      t.equal(res.statusCode, 204)
      t.equal(res.headers['access-control-allow-origin'], origin, `${origin} allowed`)
      t.match(String(res.headers.vary), /origin/i, 'varies by origin')
      const get = await app.inject({ url: '/api/tags', headers: { origin } })
      t.equal(get.headers['access-control-allow-origin'], origin)
    }

    for (const origin of ['https://evil.example.com', 'https://app.example.com.evil.com', 'http://app.example.com']) {
      const res = await preflight(origin)
      t.not(res.headers['access-control-allow-origin'], origin, `${origin} not allowed`)
      t.not(res.headers['access-control-allow-origin'], '*', `${origin} not given *`)
      const get = await app.inject({ url: '/api/tags', headers: { origin } })
      t.equal(get.headers['access-control-allow-origin'], undefined, `${origin}: no allow-origin on GET`)
    }
  })
})

t.test('x-request-id', async t => {
  const app = await build(t)

  t.test('echoed when sent', async t => {
    for (const id of ['abc-123', 'req_42.a:b', 'c2f1e4d2-6c1f-4a55-9a7e-4c3e1c0f0a11', 'x'.repeat(128)]) {
      const res = await app.inject({ url: '/api/tags', headers: { 'x-request-id': id } })
      t.equal(res.headers['x-request-id'], id)
    }
  })

  t.test('generated when not sent, different each time', async t => {
    const a = await app.inject({ url: '/api/tags' })
    const b = await app.inject({ url: '/api/tags' })
    t.match(a.headers['x-request-id'], UUID)
    t.match(b.headers['x-request-id'], UUID)
    t.not(a.headers['x-request-id'], b.headers['x-request-id'])
  })

  t.test('unsafe ids replaced', async t => {
    for (const id of ['has spaces', 'x'.repeat(500), 'x'.repeat(129), 'new\\nline', '<script>', 'a"b', '']) {
      const res = await app.inject({ url: '/api/tags', headers: { 'x-request-id': id } })
      t.match(res.headers['x-request-id'], UUID, `${JSON.stringify(id.slice(0, 20))} replaced`)
    }
  })

  t.test('on errors too', async t => {
    const notFound = await app.inject({ url: '/api/nope', headers: { 'x-request-id': 'err-1' } })
    t.equal(notFound.statusCode, 404)
    t.equal(notFound.headers['x-request-id'], 'err-1')
    const unauthorized = await app.inject({ url: '/api/user', headers: { 'x-request-id': 'err-2' } })
    t.equal(unauthorized.statusCode, 401)
    t.equal(unauthorized.headers['x-request-id'], 'err-2')
    const badJson = await app.inject({
      method: 'POST', url: '/api/users', headers: { 'x-request-id': 'err-3', 'content-type': 'application/json' }, payload: '{'
    })
    t.equal(badJson.statusCode, 400)
    t.equal(badJson.headers['x-request-id'], 'err-3')
  })
})

// Every path and method of the RealWorld contract (shared/reference/realworld/openapi.yml), served under /api.
const CONDUIT_OPERATIONS: Record<string, string[]> = {
  '/users/login': ['post'],
  '/users': ['post'],
  '/user': ['get', 'put'],
  '/profiles/{username}': ['get'],
  '/profiles/{username}/follow': ['post', 'delete'],
  '/articles/feed': ['get'],
  '/articles': ['get', 'post'],
  '/articles/{slug}': ['get', 'put', 'delete'],
  '/articles/{slug}/comments': ['get', 'post'],
  '/articles/{slug}/comments/{id}': ['delete'],
  '/articles/{slug}/favorite': ['post', 'delete'],
  '/tags': ['get']
}

t.test('/docs/json: OpenAPI 3.1 with every Conduit operation', async t => {
  const app = await build(t)
  const res = await app.inject({ url: '/docs/json' })
  t.equal(res.statusCode, 200)
  const doc = res.json() as {
    openapi: string
    paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>
    components: { schemas: Record<string, unknown>, securitySchemes: Record<string, unknown> }
  }
  t.match(doc.openapi, /^3\.1\./)
  for (const [path, methods] of Object.entries(CONDUIT_OPERATIONS)) {
    const served = doc.paths[`/api${path}`]
    t.ok(served, `path /api${path}`)
    for (const method of methods) {
      t.ok(served?.[method], `${method.toUpperCase()} /api${path}`)
      t.ok(served?.[method]?.responses, `${method.toUpperCase()} /api${path} documents its responses`)
    }
  }
  for (const name of ['Profile', 'Article', 'User', 'Comment', 'GenericErrorModel']) {
    t.ok(doc.components.schemas[name], `components.schemas.${name}`)
  }
  t.ok(doc.components.securitySchemes.Token, 'Token security scheme')
  t.notMatch(JSON.stringify(doc.components.schemas), /"def-\d+"/, 'shared schemas have names, not def-N')

  const ui = await app.inject({ url: '/docs' })
  t.ok(ui.statusCode < 400, `the UI is served (${ui.statusCode})`)
})

interface LogLine {
  level: number
  msg: string
  reqId?: string
  route?: string
  url?: string
  method?: string
  statusCode?: number
  responseTime?: number
  userId?: number
}

t.test('logs: one line per request, without secrets', async t => {
  const lines: string[] = []
  const stream = new Writable({
    write (chunk, _encoding, callback) {
      lines.push(...String(chunk).split('\n').filter(line => line !== ''))
      callback()
    }
  })
  const { app } = await buildWithDatabase(t, {}, defaults => ({
    ...defaults,
    logger: { ...(defaults.logger as object), level: 'info', stream }
  }))
  const parsed = () => lines.map(line => JSON.parse(line) as LogLine)
  const forRequest = async (reqId: string) => {
    // The line is written when the response finishes; give it a moment to land.
    for (let i = 0; i < 50 && !parsed().some(l => l.reqId === reqId); i++) await sleep(10)
    return parsed().filter(l => l.reqId === reqId)
  }

  const password = 'correct-horse-battery-staple'
  const register = await app.inject({
    method: 'POST',
    url: '/api/users',
    headers: { 'x-request-id': 'log-register' },
    payload: { user: { username: 'logger', email: 'logger@example.com', password } }
  })
  t.equal(register.statusCode, 201)
  const token = register.json().user.token as string
  const userId = Number(JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).sub)

  const login = await app.inject({
    method: 'POST',
    url: '/api/users/login',
    headers: { 'x-request-id': 'log-login' },
    payload: { user: { email: 'logger@example.com', password } }
  })
  t.equal(login.statusCode, 200)
  const badLogin = await app.inject({
    method: 'POST',
    url: '/api/users/login',
    headers: { 'x-request-id': 'log-bad-login' },
    payload: { user: { email: 'logger@example.com', password: 'wrong-password-123' } }
  })
  t.equal(badLogin.statusCode, 401)
  const create = await app.inject({
    method: 'POST',
    url: '/api/articles',
    headers: { 'x-request-id': 'log-create', authorization: `Token ${token}` },
    payload: { article: { title: 'Logged', description: 'd', body: 'b' } }
  })
  t.equal(create.statusCode, 201)
  const slug = create.json().article.slug as string
  const get = await app.inject({
    url: `/api/articles/${slug}`, headers: { 'x-request-id': 'log-get', authorization: `Token ${token}` }
  })
  t.equal(get.statusCode, 200)
  const anon = await app.inject({ url: '/api/articles?limit=5', headers: { 'x-request-id': 'log-anon' } })
  t.equal(anon.statusCode, 200)
  const badToken = await app.inject({
    url: '/api/user', headers: { 'x-request-id': 'log-bad-token', authorization: 'Token not-a-real-token' }
  })
  t.equal(badToken.statusCode, 401)
  const invalid = await app.inject({
    method: 'POST', url: '/api/articles', headers: { 'x-request-id': 'log-invalid', authorization: `Token ${token}` }, payload: { article: {} }
  })
  t.equal(invalid.statusCode, 422)

  const expected: Array<[string, string, number, boolean]> = [
    ['log-register', '/api/users', 201, false],
    ['log-login', '/api/users/login', 200, false],
    ['log-bad-login', '/api/users/login', 401, false],
    ['log-create', '/api/articles', 201, true],
    ['log-get', '/api/articles/:slug', 200, true],
    ['log-anon', '/api/articles', 200, false],
    ['log-bad-token', '/api/user', 401, false],
    ['log-invalid', '/api/articles', 422, true]
  ]
  for (const [reqId, route, statusCode, authenticated] of expected) {
    const found = await forRequest(reqId)
    t.equal(found.length, 1, `${reqId}: exactly one line`)
    const line = found[0]
    t.match(line, { reqId, route, statusCode, responseTime: Number }, `${reqId}: reqId, route, statusCode, responseTime`)
    t.ok((line?.responseTime ?? -1) >= 0, `${reqId}: responseTime is a duration`)
    if (authenticated) t.equal(line?.userId, userId, `${reqId}: userId`)
    else t.equal(line?.userId, undefined, `${reqId}: no userId when anonymous`)
  }

  const notFound = await app.inject({ url: '/api/nope', headers: { 'x-request-id': 'log-404' } })
  t.equal(notFound.statusCode, 404)
  const missing = await forRequest('log-404')
  t.equal(missing.length, 1, '404: exactly one line')
  t.match(missing[0], { statusCode: 404, responseTime: Number })

  const all = lines.join('\n')
  t.notMatch(all, password, 'no password in the logs')
  t.notMatch(all, 'wrong-password-123', 'no rejected password in the logs')
  t.notMatch(all, token, 'no token in the logs')
  t.notMatch(all, 'not-a-real-token', 'no rejected token in the logs')
  t.notMatch(all, /authorization/i, 'no authorization header in the logs')
  t.notMatch(all, 'password_hash', 'no password hash in the logs')
  t.notMatch(all, /scrypt\$/, 'no password hash in the logs')
})
