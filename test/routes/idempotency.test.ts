import pg from 'pg'
import t from 'tap'
import { assertError, jsonHeaders, type ArticleJson, type CommentJson } from '../articles-helper.js'
import { auth, buildWithDatabase, createArticle, queryDatabase, registerUser, type TestUser } from '../helper.js'
import { idempotencyRepository } from '../../src/repositories/idempotency.js'

// A 5xx after the write committed (or a response lost on the way) leads a client to retry. With
// the same Idempotency-Key, the retry must get the first result, never a second row.

const KEY_MESSAGE = /^(?:must be|was already)/

t.test('Idempotency-Key', async t => {
  const { app, databaseUrl } = await buildWithDatabase(t)
  const jake = await registerUser(app, 'jake')
  const jane = await registerUser(app, 'jane')
  const article = await createArticle(app, jake, { title: 'Commented' })
  const other = await createArticle(app, jake, { title: 'Other' })
  const count = async (sql: string, params: unknown[] = []) =>
    (await queryDatabase<{ n: number }>(databaseUrl, `SELECT count(*)::int AS n FROM ${sql}`, params))[0]?.n

  const comment = (user: TestUser, key: string | undefined, body = 'Retried', slug = article.slug) => app.inject({
    method: 'POST',
    url: `/api/articles/${slug}/comments`,
    headers: { ...auth(user), ...(key === undefined ? {} : { 'idempotency-key': key }) },
    payload: { comment: { body } }
  })
  const post = (user: TestUser, key: string | undefined, fields: Record<string, unknown> = {}) => app.inject({
    method: 'POST',
    url: '/api/articles',
    headers: { ...auth(user), ...(key === undefined ? {} : { 'idempotency-key': key }) },
    payload: { article: { title: 'Once', description: 'd', body: 'b', tagList: ['x', 'y'], ...fields } }
  })
  const register = (key: string | undefined, user: Record<string, string>) => app.inject({
    method: 'POST',
    url: '/api/users',
    headers: key === undefined ? {} : { 'idempotency-key': key },
    payload: { user: { password: 'password123', ...user } }
  })

  t.test('comment: a retry gets the first comment, and only one row exists', async t => {
    const first = await comment(jane, 'comment-1', 'Only once')
    t.equal(first.statusCode, 200)
    const retry = await comment(jane, 'comment-1', 'Only once')
    t.equal(retry.statusCode, 200, 'the same status')
    t.same(retry.json(), first.json(), 'the same comment')
    t.equal(await count("comments WHERE body = 'Only once'"), 1)
  })

  t.test('article: a retry gets the first article, and only one row exists', async t => {
    const first = await post(jane, 'article-1', { title: 'Article once' })
    t.equal(first.statusCode, 201)
    const retry = await post(jane, 'article-1', { title: 'Article once', tagList: ['y', 'x', 'x'] })
    t.equal(retry.statusCode, 201, 'the same status (the tags are the same set)')
    const a = first.json().article as ArticleJson
    t.same(retry.json().article, a, 'the same article')
    t.equal(await count("articles WHERE title = 'Article once'"), 1)
  })

  t.test('register: a retry gets the same user (with a working token), one row', async t => {
    const user = { username: 'retrier', email: 'Retrier@example.com' }
    const first = await register('signup-1', user)
    t.equal(first.statusCode, 201)
    const retry = await register('signup-1', user)
    t.equal(retry.statusCode, 201, '201 again, not 422 "has already been taken"')
    t.match(retry.json(), { user: { username: 'retrier', email: 'Retrier@example.com' } })
    const me = await app.inject({ url: '/api/user', headers: auth(retry.json().user) })
    t.equal(me.json().user.username, 'retrier', "the retry's token is the user's")
    t.equal(await count("users WHERE username = 'retrier'"), 1)

    // The key is scoped to the email being registered; replaying needs the same password too.
    const otherPassword = await register('signup-1', { ...user, password: 'another-password' })
    assertError(t, otherPassword, 422, 'Idempotency-Key')
    t.notOk(otherPassword.json().user, 'no token for a different password')
    assertError(t, await register('signup-1', { ...user, username: 'retrier2' }), 422, 'Idempotency-Key')
    const otherEmail = await register('signup-1', { username: 'someone', email: 'someone@example.com' })
    t.equal(otherEmail.statusCode, 201, 'another email: the same key is someone else\'s, not a conflict')
    assertError(t, await register(undefined, { ...user, username: 'retrier3' }), 422, 'email')
  })

  t.test('concurrent identical requests create one row and all get it', async t => {
    const comments = await Promise.all(Array.from({ length: 8 }, () => comment(jane, 'race-comment', 'Raced')))
    t.same(comments.map(res => res.statusCode), Array(8).fill(200))
    t.equal(new Set(comments.map(res => (res.json().comment as CommentJson).id)).size, 1, 'one comment id')
    t.equal(await count("comments WHERE body = 'Raced'"), 1)

    const articles = await Promise.all(Array.from({ length: 8 }, () => post(jane, 'race-article', { title: 'Raced' })))
    t.same(articles.map(res => res.statusCode), Array(8).fill(201))
    t.equal(new Set(articles.map(res => (res.json().article as ArticleJson).slug)).size, 1, 'one slug')
    t.equal(await count("articles WHERE title = 'Raced'"), 1)

    const users = await Promise.all(Array.from({ length: 6 }, () => register('race-user', { username: 'racer', email: 'racer@example.com' })))
    t.same(users.map(res => res.statusCode), Array(6).fill(201), 'no "has already been taken"')
    t.equal(await count("users WHERE username = 'racer'"), 1)
  })

  t.test('the same key for a different request: 422 on Idempotency-Key, nothing written', async t => {
    t.equal((await comment(jane, 'reused', 'First body')).statusCode, 200)
    const body = await comment(jane, 'reused', 'Second body')
    assertError(t, body, 422, 'Idempotency-Key')
    t.match(body.json().errors['Idempotency-Key'][0], /was already used for a different request/)
    assertError(t, await comment(jane, 'reused', 'First body', other.slug), 422, 'Idempotency-Key')
    assertError(t, await post(jane, 'reused'), 422, 'Idempotency-Key')
    t.equal(await count("comments WHERE body = 'Second body'"), 0)
    t.equal(await count('comments c JOIN articles a ON a.id = c.article_id WHERE a.slug = $1 AND c.body = \'First body\'', [other.slug]), 0)
    t.equal(await count("articles WHERE title = 'Once'"), 0)
    assertError(t, await post(jane, 'article-1', { title: 'Another title' }), 422, 'Idempotency-Key')
  })

  t.test('keys are per user: two users with the same key write two comments', async t => {
    const a = await comment(jane, 'shared-key', 'Per user')
    const b = await comment(jake, 'shared-key', 'Per user')
    t.equal(a.statusCode, 200)
    t.equal(b.statusCode, 200)
    t.not(a.json().comment.id, b.json().comment.id)
    t.equal(await count("comments WHERE body = 'Per user'"), 2)
  })

  t.test('without the header nothing changes: two requests, two comments', async t => {
    t.equal((await comment(jane, undefined, 'No key')).statusCode, 200)
    t.equal((await comment(jane, undefined, 'No key')).statusCode, 200)
    t.equal(await count("comments WHERE body = 'No key'"), 2)
  })

  t.test('an invalid key is a 422 on Idempotency-Key, on every POST', async t => {
    for (const key of ['', 'x'.repeat(256), 'tab\there', 'caf\u00e9']) {
      const res = await comment(jane, key, 'Invalid key')
      assertError(t, res, 422, 'Idempotency-Key')
      t.match(res.json().errors['Idempotency-Key'][0], KEY_MESSAGE)
    }
    t.equal((await comment(jane, 'x'.repeat(255), 'Longest key')).statusCode, 200, '255 characters are fine')
    t.equal((await comment(jane, ' !~ printable', 'Printable key')).statusCode, 200, 'any printable ASCII')
    assertError(t, await app.inject({
      method: 'POST', url: `/api/articles/${article.slug}/favorite`, headers: { ...jsonHeaders(jane), 'idempotency-key': 'x'.repeat(256) }
    }), 422, 'Idempotency-Key')
    assertError(t, await register('', { username: 'nobody', email: 'nobody@example.com' }), 422, 'Idempotency-Key')
    assertError(t, await app.inject({ method: 'POST', url: '/api/nowhere', headers: { 'idempotency-key': '' } }), 404, 'route')
    t.equal((await app.inject({
      method: 'PUT', url: '/api/user', headers: { ...auth(jane), 'idempotency-key': '' }, payload: { user: { bio: 'PUT ignores it' } }
    })).statusCode, 200, 'only POSTs read the header')
    t.equal(await count("comments WHERE body = 'Invalid key'"), 0)
  })

  t.test('favorite, follow and login accept a key and stay idempotent', async t => {
    const send = (url: string, key: string, payload?: object) => app.inject({
      method: 'POST', url, headers: { ...jsonHeaders(jane), 'idempotency-key': key }, ...(payload === undefined ? {} : { payload })
    })
    for (let i = 0; i < 2; i++) {
      const fav = await send(`/api/articles/${article.slug}/favorite`, 'fav-1')
      t.equal(fav.statusCode, 200)
      t.match(fav.json().article, { favorited: true, favoritesCount: 1 })
      const follow = await send('/api/profiles/jake/follow', 'follow-1')
      t.equal(follow.statusCode, 200)
      t.match(follow.json().profile, { following: true })
      const login = await send('/api/users/login', 'login-1', { user: { email: jane.email, password: jane.password } })
      t.equal(login.statusCode, 200)
    }
  })

  t.test('a replay of a resource deleted since: 404', async t => {
    const first = await post(jane, 'deleted-later', { title: 'Short-lived' })
    const { slug } = first.json().article as ArticleJson
    t.equal((await app.inject({ method: 'DELETE', url: `/api/articles/${slug}`, headers: auth(jane) })).statusCode, 204)
    assertError(t, await post(jane, 'deleted-later', { title: 'Short-lived' }), 404, 'article')
    t.equal(await count("articles WHERE title = 'Short-lived'"), 0, 'not created again')
  })

  t.test('committed, then the response failed (503): the retry gets the committed article', async t => {
    // The write does not touch favorites; the read that renders the response does. Holding a lock
    // on favorites lets the write commit and stalls the read, whose backend is then terminated.
    const blocker = new pg.Client({ connectionString: databaseUrl })
    await blocker.connect()
    t.teardown(() => blocker.end())
    await blocker.query('BEGIN')
    await blocker.query('LOCK TABLE favorites IN ACCESS EXCLUSIVE MODE')
    const pending = post(jane, 'lost-response', { title: 'Lost response', tagList: [] })
    let waiting: number | undefined
    for (let i = 0; i < 1000 && waiting === undefined; i++) {
      const { rows } = await blocker.query<{ pid: number }>(
        'SELECT l.pid FROM pg_locks l WHERE NOT l.granted AND l.relation = \'favorites\'::regclass')
      waiting = rows[0]?.pid
      if (waiting === undefined) await new Promise(resolve => setTimeout(resolve, 10))
    }
    t.ok(waiting, 'the read after the write waits on the lock')
    await blocker.query('SELECT pg_terminate_backend($1)', [waiting])
    const failed = await pending
    assertError(t, failed, 503, 'database')
    await blocker.query('ROLLBACK')
    t.equal(await count("articles WHERE title = 'Lost response'"), 1, 'the write had committed')

    const retry = await post(jane, 'lost-response', { title: 'Lost response', tagList: [] })
    t.equal(retry.statusCode, 201)
    t.match(retry.json().article, { title: 'Lost response', author: { username: 'jane' } })
    t.equal(await count("articles WHERE title = 'Lost response'"), 1, 'no duplicate')
    const [row] = await queryDatabase<{ slug: string }>(databaseUrl, "SELECT slug FROM articles WHERE title = 'Lost response'")
    t.equal(retry.json().article.slug, row?.slug, 'the committed article')
  })

  t.test('OpenAPI documents the header on the POSTs that create; CORS allows it', async t => {
    const doc = (await app.inject({ url: '/docs/json' })).json() as {
      paths: Record<string, Record<string, { parameters?: Array<{ in: string, name: string }> }>>
    }
    for (const path of ['/api/users', '/api/articles', '/api/articles/{slug}/comments', '/api/articles/{slug}/favorite',
      '/api/profiles/{username}/follow', '/api/users/login']) {
      const header = doc.paths[path]?.post?.parameters?.find(p => p.in === 'header')
      t.equal(header?.name, 'idempotency-key', `POST ${path}`)
    }
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/api/articles',
      headers: { origin: 'http://example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'idempotency-key' }
    })
    t.match(String(preflight.headers['access-control-allow-headers']), /Idempotency-Key/i)
  })

  t.test('keys older than the retention are pruned, newer ones kept', async t => {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 })
    t.teardown(() => pool.end())
    await pool.query(`INSERT INTO idempotency_keys (scope, key, fingerprint, resource_id, created_at)
                      VALUES ('user:999', 'old', 'f', 1, now() - interval '25 hours'),
                             ('user:999', 'recent', 'f', 1, now() - interval '23 hours')`)
    const pruned = await idempotencyRepository(pool).prune(24)
    t.equal(pruned, 1)
    t.same((await pool.query("SELECT key FROM idempotency_keys WHERE scope = 'user:999'")).rows, [{ key: 'recent' }])
  })
})
