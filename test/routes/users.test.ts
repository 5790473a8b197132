import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { auth, build, registerUser } from '../helper.js'
import { assertError, buildWithDb, userId } from '../users-helper.js'

const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/

function register (app: FastifyInstance, user: unknown) {
  return app.inject({ method: 'POST', url: '/api/users', payload: { user } })
}

function login (app: FastifyInstance, email: string, password: string) {
  return app.inject({ method: 'POST', url: '/api/users/login', payload: { user: { email, password } } })
}

function currentUser (app: FastifyInstance, authorization?: string) {
  return app.inject({ url: '/api/user', headers: authorization === undefined ? {} : { authorization } })
}

function updateUser (app: FastifyInstance, token: string, user: unknown) {
  return app.inject({ method: 'PUT', url: '/api/user', headers: { authorization: `Token ${token}` }, payload: { user } })
}

t.test('POST /api/users (register)', async t => {
  const { app, sql } = await buildWithDb(t)

  t.test('201 with the user, a token and empty bio/image', async t => {
    const res = await register(app, { username: 'jake', email: 'jake@jake.jake', password: 'jakejake' })
    t.equal(res.statusCode, 201)
    t.match(res.headers['content-type'], /^application\/json/)
    const body = res.json()
    t.same(Object.keys(body), ['user'])
    t.same(Object.keys(body.user).sort(), ['bio', 'email', 'image', 'token', 'username'])
    t.match(body.user, { email: 'jake@jake.jake', username: 'jake', bio: '', image: '' })
    t.match(body.user.token, JWT)
    t.notMatch(res.body, /password|hash|scrypt|jakejake/i, 'no password or hash in the body')

    const me = await currentUser(app, `Token ${body.user.token}`)
    t.equal(me.statusCode, 200, 'the token works at once')
    t.equal(me.json().user.username, 'jake')
  })

  t.test('the password is stored hashed', async t => {
    await registerUser(app, 'hashed')
    const rows = await sql<{ password_hash: string }>('SELECT password_hash FROM users WHERE username = $1', ['hashed'])
    t.match(rows[0]?.password_hash, /^scrypt\$/)
    t.notMatch(rows[0]?.password_hash, /password123/)
  })

  t.test('422 when the username is taken', async t => {
    await registerUser(app, 'taken')
    const res = await register(app, { username: 'taken', email: 'other-taken@example.com', password: 'password123' })
    assertError(t, res, 422, 'username', 'has already been taken')
  })

  t.test('422 when the email is taken', async t => {
    await registerUser(app, 'mailer')
    const res = await register(app, { username: 'mailer2', email: 'mailer@example.com', password: 'password123' })
    assertError(t, res, 422, 'email', 'has already been taken')
  })

  t.test('422 when the email is taken in another case', async t => {
    await registerUser(app, 'casey')
    const res = await register(app, { username: 'casey2', email: 'CASEY@Example.COM', password: 'password123' })
    assertError(t, res, 422, 'email', 'has already been taken')
  })

  t.test('a failed registration creates no user', async t => {
    await registerUser(app, 'once')
    await register(app, { username: 'once', email: 'once-again@example.com', password: 'password123' })
    const rows = await sql('SELECT 1 FROM users WHERE email = $1', ['once-again@example.com'])
    t.equal(rows.length, 0)
  })

  t.test('422 naming each missing field', async t => {
    const full = { username: 'missing', email: 'missing@example.com', password: 'password123' }
    for (const field of ['username', 'email', 'password'] as const) {
      const user: Record<string, string> = { ...full }
      delete user[field]
      assertError(t, await register(app, user), 422, field, "can't be blank")
    }
  })

  t.test('422 naming each empty field', async t => {
    const full = { username: 'empty', email: 'empty@example.com', password: 'password123' }
    for (const field of ['username', 'email', 'password'] as const) {
      assertError(t, await register(app, { ...full, [field]: '' }), 422, field)
    }
  })

  t.test('422 for a malformed email', async t => {
    for (const email of ['not-an-email', 'a@', '@b.c', 'a b@c.d']) {
      assertError(t, await register(app, { username: 'bademail', email, password: 'password123' }), 422, 'email', 'is invalid')
    }
  })

  t.test('422 for a short password', async t => {
    const res = await register(app, { username: 'shorty', email: 'shorty@example.com', password: 'short' })
    assertError(t, res, 422, 'password', /too short/)
  })

  t.test('422 for a username with spaces or symbols, or too long', async t => {
    for (const username of ['has space', 'semi;colon', 'slash/name', 'x'.repeat(41)]) {
      assertError(t, await register(app, { username, email: 'u@example.com', password: 'password123' }), 422, 'username')
    }
  })

  t.test('422 when `user` is missing or not an object', async t => {
    assertError(t, await app.inject({ method: 'POST', url: '/api/users', payload: {} }), 422, 'user')
    assertError(t, await app.inject({ method: 'POST', url: '/api/users', payload: { username: 'x', email: 'x@x.x', password: 'password123' } }), 422, 'user')
    assertError(t, await app.inject({ method: 'POST', url: '/api/users', payload: { user: 'jake' } }), 422, 'user')
    assertError(t, await app.inject({ method: 'POST', url: '/api/users', payload: { user: null } }), 422, 'user')
  })

  t.test('422 when the body is not an object', async t => {
    for (const payload of ['[]', '"user"', '42', 'null', 'true']) {
      const res = await app.inject({ method: 'POST', url: '/api/users', headers: { 'content-type': 'application/json' }, payload })
      t.equal(res.statusCode, 422, `${payload} → 422 (body ${res.body})`)
      const errors = res.json().errors
      t.ok(errors && typeof errors === 'object' && Object.keys(errors).length > 0, `${payload} → errors shape`)
    }
  })

  t.test('422 when the body is empty', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/users', headers: { 'content-type': 'application/json' } })
    t.equal(res.statusCode, 422)
    t.ok(Object.keys(res.json().errors).length > 0)
  })

  t.test('400 with the errors shape for malformed JSON', async t => {
    for (const payload of ['{"user":', '{user: {}}', "{'a':1}", '{"user":{}}}']) {
      const res = await app.inject({ method: 'POST', url: '/api/users', headers: { 'content-type': 'application/json' }, payload })
      assertError(t, res, 400, 'body', 'is not valid JSON')
    }
  })

  t.test('400 for a prototype-poisoning body', async t => {
    const payload = '{"user":{"username":"proto","email":"proto@example.com","password":"password123"},"__proto__":{"x":1}}'
    const res = await app.inject({ method: 'POST', url: '/api/users', headers: { 'content-type': 'application/json' }, payload })
    assertError(t, res, 400, 'body')
  })

  t.test('415 with the errors shape for an unsupported content type', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/users', headers: { 'content-type': 'application/xml' }, payload: '<user/>' })
    assertError(t, res, 415, 'body', 'must be sent as application/json')
  })

  t.test('415 (not 500) for a text/plain body', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/users', headers: { 'content-type': 'text/plain' }, payload: 'hello' })
    assertError(t, res, 415, 'body')
  })

  t.test('413 with the errors shape for an oversized body', async t => {
    const res = await register(app, { username: 'big', email: 'big@example.com', password: 'password123', bio: 'x'.repeat(2 * 1024 * 1024) })
    assertError(t, res, 413, 'body', 'is too large')
  })
})

t.test('POST /api/users/login', async t => {
  const app = await build(t)
  const jake = await registerUser(app, 'jake')

  t.test('200 with the user and a working token', async t => {
    const res = await login(app, jake.email, jake.password)
    t.equal(res.statusCode, 200)
    const { user } = res.json()
    t.same(Object.keys(user).sort(), ['bio', 'email', 'image', 'token', 'username'])
    t.match(user, { email: jake.email, username: 'jake', bio: '', image: '' })
    t.match(user.token, JWT)
    t.notMatch(res.body, /password|hash|scrypt/i)
    const me = await currentUser(app, `Token ${user.token}`)
    t.equal(me.statusCode, 200)
    t.equal(me.json().user.username, 'jake')
  })

  t.test('the email is matched case-insensitively', async t => {
    const res = await login(app, jake.email.toUpperCase(), jake.password)
    t.equal(res.statusCode, 200)
    t.equal(res.json().user.username, 'jake')
  })

  t.test('401 for a wrong password', async t => {
    const res = await login(app, jake.email, 'wrong-password')
    assertError(t, res, 401, 'email or password', 'is invalid')
  })

  t.test('the password is case-sensitive', async t => {
    assertError(t, await login(app, jake.email, jake.password.toUpperCase()), 401, 'email or password')
  })

  t.test('401 with the same body for an unknown email', async t => {
    const unknown = await login(app, 'nobody@example.com', jake.password)
    const wrong = await login(app, jake.email, 'wrong-password')
    assertError(t, unknown, 401, 'email or password', 'is invalid')
    t.equal(unknown.body, wrong.body, 'no hint whether the email exists')
  })

  t.test('422 for missing or empty fields', async t => {
    assertError(t, await app.inject({ method: 'POST', url: '/api/users/login', payload: { user: { email: jake.email } } }), 422, 'password')
    assertError(t, await app.inject({ method: 'POST', url: '/api/users/login', payload: { user: { password: 'x' } } }), 422, 'email')
    assertError(t, await login(app, '', jake.password), 422, 'email')
    assertError(t, await login(app, jake.email, ''), 422, 'password')
    assertError(t, await app.inject({ method: 'POST', url: '/api/users/login', payload: {} }), 422, 'user')
  })
})

t.test('GET /api/user', async t => {
  const { app, sql } = await buildWithDb(t)
  const jake = await registerUser(app, 'jake')

  t.test('200 with the current user', async t => {
    const res = await currentUser(app, `Token ${jake.token}`)
    t.equal(res.statusCode, 200)
    const { user } = res.json()
    t.same(Object.keys(user).sort(), ['bio', 'email', 'image', 'token', 'username'])
    t.match(user, { email: jake.email, username: 'jake', bio: '', image: '' })
    t.match(user.token, JWT)
  })

  t.test('Bearer is accepted too', async t => {
    t.equal((await currentUser(app, `Bearer ${jake.token}`)).statusCode, 200)
  })

  t.test('401 without a header', async t => {
    assertError(t, await currentUser(app), 401, 'token', 'is missing')
  })

  t.test('401 for an empty header', async t => {
    assertError(t, await currentUser(app, ''), 401, 'token')
  })

  t.test('401 for a garbage token', async t => {
    assertError(t, await currentUser(app, 'Token garbage'), 401, 'token', 'is invalid')
    assertError(t, await currentUser(app, 'Token a.b.c'), 401, 'token')
    assertError(t, await currentUser(app, `Token ${jake.token}x`), 401, 'token')
  })

  t.test('401 for the scheme with no token', async t => {
    assertError(t, await currentUser(app, 'Token'), 401, 'token')
    assertError(t, await currentUser(app, 'Token '), 401, 'token')
    assertError(t, await currentUser(app, 'Bearer '), 401, 'token')
    assertError(t, await currentUser(app, '   '), 401, 'token')
  })

  t.test('401 for a wrong scheme or a bare token', async t => {
    assertError(t, await currentUser(app, `Basic ${jake.token}`), 401, 'token')
    assertError(t, await currentUser(app, `JWT ${jake.token}`), 401, 'token')
    assertError(t, await currentUser(app, jake.token), 401, 'token')
    assertError(t, await currentUser(app, `Token ${jake.token} extra`), 401, 'token')
  })

  t.test('401 once the user row is deleted', async t => {
    const gone = await registerUser(app, 'gone')
    t.equal((await currentUser(app, `Token ${gone.token}`)).statusCode, 200)
    await sql('DELETE FROM users WHERE id = $1', [await userId(sql, 'gone')])
    assertError(t, await currentUser(app, `Token ${gone.token}`), 401, 'token')
    assertError(t, await updateUser(app, gone.token, { bio: 'ghost' }), 401, 'token')
  })
})

t.test('PUT /api/user', async t => {
  const { app, sql } = await buildWithDb(t)

  t.test('updates the email', async t => {
    const u = await registerUser(app, 'email1')
    const res = await updateUser(app, u.token, { email: 'new-email1@example.com' })
    t.equal(res.statusCode, 200)
    t.match(res.json().user, { email: 'new-email1@example.com', username: 'email1' })
    t.equal((await currentUser(app, `Token ${u.token}`)).json().user.email, 'new-email1@example.com')
    t.equal((await login(app, 'new-email1@example.com', u.password)).statusCode, 200, 'login with the new email')
    t.equal((await login(app, u.email, u.password)).statusCode, 401, 'not with the old one')
  })

  t.test('a user can change the case of their own email', async t => {
    const u = await registerUser(app, 'email2')
    const res = await updateUser(app, u.token, { email: 'EMAIL2@example.com' })
    t.equal(res.statusCode, 200)
    t.equal(res.json().user.email, 'EMAIL2@example.com')
  })

  t.test('updates the username; the old token still works', async t => {
    const u = await registerUser(app, 'renamed1')
    const res = await updateUser(app, u.token, { username: 'renamed2' })
    t.equal(res.statusCode, 200)
    t.match(res.json().user, { username: 'renamed2', email: u.email })
    t.equal((await currentUser(app, `Token ${u.token}`)).json().user.username, 'renamed2')
    t.equal((await app.inject({ url: '/api/profiles/renamed2' })).statusCode, 200)
    t.equal((await app.inject({ url: '/api/profiles/renamed1' })).statusCode, 404)
  })

  t.test('updates bio and image', async t => {
    const u = await registerUser(app, 'bioimage')
    const res = await updateUser(app, u.token, { bio: 'I like to skateboard', image: 'https://i.example.com/me.jpg' })
    t.equal(res.statusCode, 200)
    t.match(res.json().user, { bio: 'I like to skateboard', image: 'https://i.example.com/me.jpg', username: 'bioimage', email: u.email })
    const profile = await app.inject({ url: '/api/profiles/bioimage' })
    t.match(profile.json().profile, { bio: 'I like to skateboard', image: 'https://i.example.com/me.jpg' })
  })

  t.test('updating one field leaves the others', async t => {
    const u = await registerUser(app, 'partial')
    await updateUser(app, u.token, { bio: 'first', image: 'https://i.example.com/a.png' })
    const res = await updateUser(app, u.token, { bio: 'second' })
    t.match(res.json().user, { bio: 'second', image: 'https://i.example.com/a.png', username: 'partial', email: u.email })
  })

  t.test('updates the password: the new one logs in, the old one does not', async t => {
    const u = await registerUser(app, 'passwd')
    const res = await updateUser(app, u.token, { password: 'brand-new-password' })
    t.equal(res.statusCode, 200)
    t.notMatch(res.body, /password|hash|scrypt/i)
    t.equal((await login(app, u.email, 'brand-new-password')).statusCode, 200)
    assertError(t, await login(app, u.email, u.password), 401, 'email or password')
  })

  t.test('422 for an image that is not an http(s) URL; nothing stored', async t => {
    const u = await registerUser(app, 'badimage')
    await updateUser(app, u.token, { image: 'https://i.example.com/ok.png' })
    for (const image of ['javascript:alert(1)', 'JavaScript:alert(1)', ' javascript:alert(1)', 'data:text/html,<script>alert(1)</script>',
      'vbscript:x', 'file:///etc/passwd', '//evil.example/x.png', 'https://', 'http:///x', 'https://a b.example/x', 'ftp://x.example/a.png']) {
      assertError(t, await updateUser(app, u.token, { image }), 422, 'image', 'must be an http or https URL')
    }
    const profile = await app.inject({ url: '/api/profiles/badimage' })
    t.equal(profile.json().profile.image, 'https://i.example.com/ok.png', 'the last good image is kept')
    for (const image of ['http://i.example.com/a.png', 'HTTPS://I.EXAMPLE.COM/A.PNG', 'https://i.example.com:8443/a?b=c#d', '']) {
      t.equal((await updateUser(app, u.token, { image })).statusCode, 200, image)
    }
  })

  t.test('another writer of the database cannot store one either', async t => {
    await t.rejects(sql("UPDATE users SET image = 'javascript:alert(1)' WHERE username = 'badimage'"), { code: '23514' })
  })

  t.test('null bio and image clear them to ""', async t => {
    const u = await registerUser(app, 'nulls')
    await updateUser(app, u.token, { bio: 'something', image: 'https://i.example.com/x.png' })
    const res = await updateUser(app, u.token, { bio: null, image: null })
    t.equal(res.statusCode, 200)
    t.match(res.json().user, { bio: '', image: '' })
    t.match((await currentUser(app, `Token ${u.token}`)).json().user, { bio: '', image: '' })
  })

  t.test('empty strings clear bio and image too', async t => {
    const u = await registerUser(app, 'empties')
    await updateUser(app, u.token, { bio: 'something', image: 'https://i.example.com/x.png' })
    const res = await updateUser(app, u.token, { bio: '', image: '' })
    t.match(res.json().user, { bio: '', image: '' })
  })

  t.test('422 for a username taken by someone else', async t => {
    await registerUser(app, 'holder')
    const u = await registerUser(app, 'wannabe')
    assertError(t, await updateUser(app, u.token, { username: 'holder' }), 422, 'username', 'has already been taken')
    t.equal((await currentUser(app, `Token ${u.token}`)).json().user.username, 'wannabe', 'unchanged')
  })

  t.test('422 for an email taken by someone else, in any case', async t => {
    const holder = await registerUser(app, 'mailholder')
    const u = await registerUser(app, 'mailwannabe')
    assertError(t, await updateUser(app, u.token, { email: holder.email }), 422, 'email', 'has already been taken')
    assertError(t, await updateUser(app, u.token, { email: holder.email.toUpperCase() }), 422, 'email', 'has already been taken')
  })

  t.test('setting your own current username/email is fine', async t => {
    const u = await registerUser(app, 'sameagain')
    const res = await updateUser(app, u.token, { username: u.username, email: u.email })
    t.equal(res.statusCode, 200)
  })

  t.test('extra fields (id, token, createdAt) are ignored', async t => {
    const u = await registerUser(app, 'extra')
    const before = await userId(sql, 'extra')
    const res = await updateUser(app, u.token, { bio: 'extra bio', id: 1, token: 'forged', createdAt: '2000-01-01T00:00:00Z', following: true })
    t.equal(res.statusCode, 200)
    t.match(res.json().user, { bio: 'extra bio', username: 'extra' })
    t.not(res.json().user.token, 'forged')
    t.notOk('id' in res.json().user)
    t.equal(await userId(sql, 'extra'), before, 'id unchanged')
  })

  t.test('422 for an empty user object', async t => {
    const u = await registerUser(app, 'emptyobj')
    assertError(t, await updateUser(app, u.token, {}), 422, 'user')
  })

  t.test('422 when `user` is missing', async t => {
    const u = await registerUser(app, 'nouser')
    const res = await app.inject({ method: 'PUT', url: '/api/user', headers: auth(u), payload: { bio: 'x' } })
    assertError(t, res, 422, 'user')
  })

  t.test('422 for invalid values', async t => {
    const u = await registerUser(app, 'invalid')
    assertError(t, await updateUser(app, u.token, { email: 'not-an-email' }), 422, 'email')
    assertError(t, await updateUser(app, u.token, { email: '' }), 422, 'email')
    assertError(t, await updateUser(app, u.token, { password: 'short' }), 422, 'password')
    assertError(t, await updateUser(app, u.token, { username: '' }), 422, 'username')
    assertError(t, await updateUser(app, u.token, { username: 'has space' }), 422, 'username')
    assertError(t, await updateUser(app, u.token, { email: null }), 422, 'email')
    assertError(t, await updateUser(app, u.token, { username: null }), 422, 'username')
    assertError(t, await updateUser(app, u.token, { password: null }), 422, 'password')
    t.match((await currentUser(app, `Token ${u.token}`)).json().user, { username: 'invalid', email: u.email })
  })

  t.test('401 without a token', async t => {
    const res = await app.inject({ method: 'PUT', url: '/api/user', payload: { user: { bio: 'x' } } })
    assertError(t, res, 401, 'token')
  })

  t.test('401, not 422, without a token and with an invalid body', async t => {
    for (const payload of [{ user: {} }, {}, { user: { email: 'not-an-email' } }]) {
      const res = await app.inject({ method: 'PUT', url: '/api/user', payload })
      assertError(t, res, 401, 'token')
    }
    const garbage = await app.inject({ method: 'PUT', url: '/api/user', headers: { authorization: 'Token garbage' }, payload: { user: {} } })
    assertError(t, garbage, 401, 'token')
  })
})

t.test('passwords and tokens are never logged', async t => {
  const { app, logs } = await buildWithDb(t, { logs: true })
  const password = 'secret-password-42'
  const reg = await register(app, { username: 'logged', email: 'logged@example.com', password })
  t.equal(reg.statusCode, 201)
  const token = reg.json().user.token as string
  await login(app, 'logged@example.com', password)
  await login(app, 'logged@example.com', `${password}-wrong`)
  await updateUser(app, token, { password: `${password}-new` })
  await currentUser(app, `Token ${token}`)
  await currentUser(app, `Token ${token}x`)
  t.ok(logs.length > 0, 'something was logged')
  const all = logs.join('')
  t.notOk(all.includes(password), 'no password in the logs')
  t.notOk(all.includes(token), 'no token in the logs')
  t.notMatch(all, /scrypt\$/, 'no password hash in the logs')
})
