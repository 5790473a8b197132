import t from 'tap'
import {
  addComment, assertError, buildWithDatabase, createArticles, favorite, follow, getArticle, ISO_MS, jsonHeaders, listArticles, queryDatabase, SLUG,
  type ArticleJson
} from '../articles-helper.js'
import { auth, build, createArticle, registerUser } from '../helper.js'

const NEW_ARTICLE = { title: 'How to train your dragon', description: 'Ever wonder how?', body: 'You have to believe' }

t.test('POST /api/articles', async t => {
  const app = await build(t)
  const jake = await registerUser(app, 'jake')

  t.test('creates an article: 201 with the full article', async t => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/articles',
      headers: auth(jake),
      payload: { article: { ...NEW_ARTICLE, tagList: ['dragons', 'training'] } }
    })
    t.equal(res.statusCode, 201)
    t.match(res.headers['content-type'], /^application\/json/)
    const { article } = res.json() as { article: ArticleJson }
    t.match(article, {
      slug: /^how-to-train-your-dragon(-[a-z0-9]+)?$/,
      title: NEW_ARTICLE.title,
      description: NEW_ARTICLE.description,
      body: NEW_ARTICLE.body,
      tagList: ['dragons', 'training'],
      createdAt: ISO_MS,
      updatedAt: ISO_MS,
      favorited: false,
      favoritesCount: 0
    })
    t.same(article.author, { username: 'jake', bio: '', image: '', following: false })
    t.same(Object.keys(article).sort(), [
      'author', 'body', 'createdAt', 'description', 'favorited', 'favoritesCount', 'slug', 'tagList', 'title', 'updatedAt'
    ])
    t.equal(article.createdAt, article.updatedAt, 'a new article was never updated')
    t.ok(Math.abs(Date.parse(article.createdAt) - Date.now()) < 60_000, 'createdAt is now')

    const got = await getArticle(app, article.slug)
    t.equal(got.statusCode, 200)
    t.same(got.json().article, article, 'GET returns what POST returned')
  })

  for (const field of ['title', 'description', 'body'] as const) {
    t.test(`missing ${field}: 422 naming it`, async t => {
      const article: Record<string, string> = { ...NEW_ARTICLE }
      delete article[field]
      const res = await app.inject({ method: 'POST', url: '/api/articles', headers: auth(jake), payload: { article } })
      assertError(t, res, 422, field)
    })

    t.test(`empty ${field}: 422 naming it`, async t => {
      const res = await app.inject({
        method: 'POST', url: '/api/articles', headers: auth(jake), payload: { article: { ...NEW_ARTICLE, [field]: '' } }
      })
      assertError(t, res, 422, field)
    })
  }

  t.test('whitespace-only title: 422', async t => {
    const res = await app.inject({
      method: 'POST', url: '/api/articles', headers: auth(jake), payload: { article: { ...NEW_ARTICLE, title: '   \t ' } }
    })
    assertError(t, res, 422, 'title')
  })

  t.test('non-string title: 422', async t => {
    const res = await app.inject({
      method: 'POST', url: '/api/articles', headers: auth(jake), payload: { article: { ...NEW_ARTICLE, title: { x: 1 } } }
    })
    assertError(t, res, 422, 'title')
  })

  t.test('missing article wrapper: 422', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/articles', headers: auth(jake), payload: NEW_ARTICLE })
    assertError(t, res, 422, 'article')
  })

  t.test('tagList: duplicates removed and sorted', async t => {
    const article = await createArticle(app, jake, { tagList: ['zeta', 'alpha', 'zeta', 'mid', 'alpha'] })
    t.same(article.tagList, ['alpha', 'mid', 'zeta'])
    const got = await getArticle(app, article.slug)
    t.same(got.json().article.tagList, ['alpha', 'mid', 'zeta'])
  })

  t.test('tagList null or absent: empty list', async t => {
    const withNull = await createArticle(app, jake, { tagList: null })
    t.same(withNull.tagList, [])
    const res = await app.inject({ method: 'POST', url: '/api/articles', headers: auth(jake), payload: { article: NEW_ARTICLE } })
    t.equal(res.statusCode, 201)
    t.same(res.json().article.tagList, [])
  })

  t.test('tagList with a blank tag: 422', async t => {
    const res = await app.inject({
      method: 'POST', url: '/api/articles', headers: auth(jake), payload: { article: { ...NEW_ARTICLE, tagList: ['ok', ' '] } }
    })
    assertError(t, res, 422, 'tagList')
  })

  t.test('no token with an invalid body: 401, not 422', async t => {
    for (const payload of [{ article: {} }, { article: { ...NEW_ARTICLE, title: '' } }, {}]) {
      assertError(t, await app.inject({ method: 'POST', url: '/api/articles', payload }), 401, 'token')
      const bad = await app.inject({ method: 'POST', url: '/api/articles', headers: { authorization: 'Token x' }, payload })
      assertError(t, bad, 401, 'token')
    }
  })

  t.test('no token: 401; bad token: 401', async t => {
    const anon = await app.inject({ method: 'POST', url: '/api/articles', payload: { article: NEW_ARTICLE } })
    assertError(t, anon, 401, 'token')
    const bad = await app.inject({
      method: 'POST', url: '/api/articles', headers: { authorization: 'Token not.a.jwt' }, payload: { article: NEW_ARTICLE }
    })
    assertError(t, bad, 401, 'token')
  })

  t.test('slugs are URL-safe and unique', async t => {
    const titles = ['Same title', 'Same title', '日本語のタイトル', 'Crème brûlée', 'What?! 100% / ok & "quoted"']
    const slugs = new Set<string>()
    for (const title of titles) {
      const article = await createArticle(app, jake, { title })
      t.match(article.slug, SLUG, `${title} → ${article.slug}`)
      t.equal(article.title, title, 'title kept as sent')
      slugs.add(article.slug)
      const got = await getArticle(app, article.slug)
      t.equal(got.statusCode, 200, `GET ${article.slug}`)
      t.equal(got.json().article.title, title)
    }
    t.equal(slugs.size, titles.length, 'every slug is different')
  })

  t.test('accented title folds to ASCII words', async t => {
    const article = await createArticle(app, jake, { title: 'Crème brûlée' })
    t.match(article.slug, /^creme-brulee/)
  })
})

t.test('GET /api/articles/:slug', async t => {
  const app = await build(t)
  const jake = await registerUser(app, 'jake')
  const jane = await registerUser(app, 'jane')
  const article = await createArticle(app, jake, { ...NEW_ARTICLE, tagList: ['b', 'a'] })

  t.test('anonymous: flags false', async t => {
    const res = await getArticle(app, article.slug)
    t.equal(res.statusCode, 200)
    t.match(res.json().article, {
      slug: article.slug,
      body: NEW_ARTICLE.body,
      tagList: ['a', 'b'],
      favorited: false,
      favoritesCount: 0,
      author: { username: 'jake', following: false }
    })
  })

  t.test('authenticated: favorited and following for that viewer', async t => {
    await follow(app, jane, 'jake')
    t.equal((await favorite(app, jane, article.slug)).statusCode, 200)
    const asJane = (await getArticle(app, article.slug, jane)).json().article
    t.match(asJane, { favorited: true, favoritesCount: 1, author: { username: 'jake', following: true } })
    const asJake = (await getArticle(app, article.slug, jake)).json().article
    t.match(asJake, { favorited: false, favoritesCount: 1, author: { following: false } })
    const anon = (await getArticle(app, article.slug)).json().article
    t.match(anon, { favorited: false, favoritesCount: 1, author: { following: false } })
  })

  t.test('invalid token: 401, not anonymous', async t => {
    const res = await app.inject({ url: `/api/articles/${article.slug}`, headers: { authorization: 'Token nope' } })
    assertError(t, res, 401, 'token')
  })

  t.test('unknown slug: 404', async t => {
    assertError(t, await getArticle(app, 'no-such-article'), 404, 'article')
    assertError(t, await getArticle(app, 'no-such-article', jake), 404, 'article')
  })
})

t.test('GET /api/articles', async t => {
  t.test('default page: 20 newest, count of all, no body', async t => {
    const app = await build(t)
    const jake = await registerUser(app, 'jake')
    const slugs = await createArticles(app, jake, 25)
    const list = await listArticles(t, app)
    t.equal(list.articlesCount, 25)
    t.equal(list.articles.length, 20)
    t.same(list.articles.map(a => a.slug), slugs.slice().reverse().slice(0, 20), 'newest first')
    for (const item of list.articles) {
      t.notOk(Object.hasOwn(item, 'body'), `no body in ${item.slug}`)
      t.match(item, {
        slug: SLUG,
        title: String,
        description: String,
        tagList: Array,
        createdAt: ISO_MS,
        updatedAt: ISO_MS,
        favorited: false,
        favoritesCount: 0,
        author: { username: 'jake', bio: '', image: '', following: false }
      })
    }
    const times = list.articles.map(a => Date.parse(a.createdAt))
    t.same(times, times.slice().sort((a, b) => b - a), 'createdAt descending')
  })

  t.test('empty database: empty list', async t => {
    const app = await build(t)
    t.same(await listArticles(t, app), { articles: [], articlesCount: 0 })
  })

  t.test('paging with limit and offset', async t => {
    const app = await build(t)
    const jake = await registerUser(app, 'jake')
    const newest = (await createArticles(app, jake, 7)).reverse()

    const first = await listArticles(t, app, { limit: 3 })
    t.equal(first.articlesCount, 7, 'count is the total, not the page size')
    t.same(first.articles.map(a => a.slug), newest.slice(0, 3))

    const second = await listArticles(t, app, { limit: 3, offset: 3 })
    t.equal(second.articlesCount, 7)
    t.same(second.articles.map(a => a.slug), newest.slice(3, 6))

    const last = await listArticles(t, app, { limit: 3, offset: 6 })
    t.equal(last.articlesCount, 7)
    t.same(last.articles.map(a => a.slug), newest.slice(6))

    const beyond = await listArticles(t, app, { limit: 3, offset: 50 })
    t.same(beyond, { articles: [], articlesCount: 7 })

    const offsetOnly = await listArticles(t, app, { offset: 5 })
    t.same(offsetOnly.articles.map(a => a.slug), newest.slice(5))

    t.equal((await listArticles(t, app, { limit: 1 })).articles.length, 1, 'limit=1 allowed')
    t.equal((await listArticles(t, app, { limit: 100 })).articles.length, 7, 'limit=100 allowed')
  })

  t.test('invalid paging: 422 naming the parameter', async t => {
    const app = await build(t)
    const cases: Array<[string, string]> = [
      ['limit=101', 'limit'], ['limit=0', 'limit'], ['limit=-1', 'limit'], ['limit=abc', 'limit'], ['limit=2.5', 'limit'],
      ['offset=-1', 'offset'], ['offset=1.5', 'offset'], ['offset=abc', 'offset']
    ]
    for (const [query, field] of cases) {
      t.test(query, async t => {
        assertError(t, await app.inject({ url: `/api/articles?${query}` }), 422, field)
        const jake = await registerUser(app)
        assertError(t, await app.inject({ url: `/api/articles/feed?${query}`, headers: auth(jake) }), 422, field)
      })
    }
  })

  t.test('filters', async t => {
    const app = await build(t)
    const jake = await registerUser(app, 'jake')
    const jane = await registerUser(app, 'jane')
    const bob = await registerUser(app, 'bob')
    const j1 = await createArticle(app, jake, { title: 'j1', tagList: ['dragons', 'fire'] })
    const j2 = await createArticle(app, jake, { title: 'j2', tagList: ['dragons'] })
    const j3 = await createArticle(app, jake, { title: 'j3' })
    const n1 = await createArticle(app, jane, { title: 'n1', tagList: ['dragons', 'ice'] })
    const n2 = await createArticle(app, jane, { title: 'n2', tagList: ['ice'] })
    for (const slug of [j1.slug, n1.slug, n2.slug]) t.equal((await favorite(app, bob, slug)).statusCode, 200)
    t.equal((await favorite(app, jane, j2.slug)).statusCode, 200)

    const slugsOf = async (query: Record<string, string>) => {
      const list = await listArticles(t, app, query)
      t.equal(list.articlesCount, list.articles.length, `count matches for ${JSON.stringify(query)}`)
      return list.articles.map(a => a.slug)
    }

    t.same(await slugsOf({ tag: 'dragons' }), [n1.slug, j2.slug, j1.slug], 'tag')
    t.same(await slugsOf({ tag: 'ice' }), [n2.slug, n1.slug], 'another tag')
    t.same(await slugsOf({ author: 'jake' }), [j3.slug, j2.slug, j1.slug], 'author')
    t.same(await slugsOf({ author: 'jane' }), [n2.slug, n1.slug], 'another author')
    t.same(await slugsOf({ favorited: 'bob' }), [n2.slug, n1.slug, j1.slug], 'favorited')
    t.same(await slugsOf({ favorited: 'jane' }), [j2.slug], 'favorited by another')
    t.same(await slugsOf({ tag: 'dragons', author: 'jane' }), [n1.slug], 'tag + author')
    t.same(await slugsOf({ author: 'jake', favorited: 'bob' }), [j1.slug], 'author + favorited')
    t.same(await slugsOf({ tag: 'ice', favorited: 'bob' }), [n2.slug, n1.slug], 'tag + favorited')
    t.same(await slugsOf({ tag: 'dragons', author: 'jake', favorited: 'bob' }), [j1.slug], 'all three')
    t.same(await slugsOf({ tag: 'fire', author: 'jane' }), [], 'tag + author with no match')

    const unmatched: Array<Record<string, string>> = [
      { author: 'nobody' }, { tag: 'no-such-tag' }, { favorited: 'nobody' }, { favorited: 'jake' }
    ]
    for (const query of unmatched) {
      t.same(await listArticles(t, app, query), { articles: [], articlesCount: 0 }, `empty for ${JSON.stringify(query)}`)
    }

    const paged = await listArticles(t, app, { tag: 'dragons', limit: 1, offset: 1 })
    t.equal(paged.articlesCount, 3, 'filtered count is the total of the filter')
    t.same(paged.articles.map(a => a.slug), [j2.slug])

    const dragons = await listArticles(t, app, { tag: 'dragons' })
    for (const item of dragons.articles) t.notOk(Object.hasOwn(item, 'body'), 'no body in filtered items')
  })

  t.test('invalid token: 401, missing token: anonymous', async t => {
    const app = await build(t)
    assertError(t, await app.inject({ url: '/api/articles', headers: { authorization: 'Token garbage' } }), 401, 'token')
    assertError(t, await app.inject({ url: '/api/articles', headers: { authorization: 'garbage' } }), 401, 'token')
    t.equal((await app.inject({ url: '/api/articles' })).statusCode, 200)
  })
})

t.test('GET /api/articles/feed', async t => {
  const app = await build(t)
  const reader = await registerUser(app, 'reader')
  const jake = await registerUser(app, 'jake')
  const jane = await registerUser(app, 'jane')
  const other = await registerUser(app, 'other')

  t.test('no token: 401 (even with invalid paging)', async t => {
    assertError(t, await app.inject({ url: '/api/articles/feed' }), 401, 'token')
    assertError(t, await app.inject({ url: '/api/articles/feed?limit=0' }), 401, 'token')
    assertError(t, await app.inject({ url: '/api/articles/feed', headers: { authorization: 'Token x.y.z' } }), 401, 'token')
  })

  t.test('follows nobody: empty', async t => {
    t.same(await listArticles(t, app, {}, reader, '/api/articles/feed'), { articles: [], articlesCount: 0 })
  })

  t.test('only followed authors, newest first, with count', async t => {
    const j1 = await createArticle(app, jake, { title: 'j1' })
    const o1 = await createArticle(app, other, { title: 'o1' })
    const n1 = await createArticle(app, jane, { title: 'n1' })
    const j2 = await createArticle(app, jake, { title: 'j2' })
    await createArticle(app, reader, { title: 'own article' })
    await follow(app, reader, 'jake')
    await follow(app, reader, 'jane')

    const feed = await listArticles(t, app, {}, reader, '/api/articles/feed')
    t.equal(feed.articlesCount, 3)
    t.same(feed.articles.map(a => a.slug), [j2.slug, n1.slug, j1.slug])
    t.notOk(feed.articles.some(a => a.slug === o1.slug), 'not followed: not in the feed')
    for (const item of feed.articles) {
      t.equal(item.author.following, true, 'authors are followed')
      t.notOk(Object.hasOwn(item, 'body'), 'no body')
    }

    const page = await listArticles(t, app, { limit: 1, offset: 1 }, reader, '/api/articles/feed')
    t.equal(page.articlesCount, 3)
    t.same(page.articles.map(a => a.slug), [n1.slug])

    const unfollow = await app.inject({ method: 'DELETE', url: '/api/profiles/jane/follow', headers: jsonHeaders(reader) })
    t.equal(unfollow.statusCode, 200)
    const after = await listArticles(t, app, {}, reader, '/api/articles/feed')
    t.same(after.articles.map(a => a.slug), [j2.slug, j1.slug])
    t.equal(after.articlesCount, 2)
  })
})

t.test('PUT /api/articles/:slug', async t => {
  const app = await build(t)
  const jake = await registerUser(app, 'jake')
  const jane = await registerUser(app, 'jane')

  const put = (slug: string, article: Record<string, unknown>, user = jake) =>
    app.inject({ method: 'PUT', url: `/api/articles/${slug}`, headers: auth(user), payload: { article } })

  t.test('title: new slug, old slug 404', async t => {
    const created = await createArticle(app, jake, { title: 'Old title', tagList: ['keep'] })
    const res = await put(created.slug, { title: 'Brand new title' })
    t.equal(res.statusCode, 200)
    const { article } = res.json() as { article: ArticleJson }
    t.equal(article.title, 'Brand new title')
    t.match(article.slug, /^brand-new-title/)
    t.match(article.slug, SLUG)
    t.not(article.slug, created.slug)
    t.same(article.tagList, ['keep'], 'omitted tagList unchanged')
    t.equal(article.body, 'A body', 'omitted body unchanged')
    assertError(t, await getArticle(app, created.slug), 404, 'article')
    t.equal((await getArticle(app, article.slug)).json().article.title, 'Brand new title')
  })

  t.test('same title: slug kept', async t => {
    const created = await createArticle(app, jake, { title: 'Steady' })
    const res = await put(created.slug, { title: 'Steady', body: 'new body' })
    t.equal(res.statusCode, 200)
    t.equal(res.json().article.slug, created.slug)
    t.equal(res.json().article.body, 'new body')
  })

  t.test('description and body, each on its own', async t => {
    const created = await createArticle(app, jake, { title: 'Fields', description: 'd0', body: 'b0' })
    const before = (await getArticle(app, created.slug)).json().article as ArticleJson

    const d = await put(created.slug, { description: 'd1' })
    t.equal(d.statusCode, 200)
    t.match(d.json().article, { slug: created.slug, title: 'Fields', description: 'd1', body: 'b0' })

    const b = await put(created.slug, { body: 'b1' })
    t.equal(b.statusCode, 200)
    const after = b.json().article as ArticleJson
    t.match(after, { slug: created.slug, title: 'Fields', description: 'd1', body: 'b1' })
    t.equal(after.createdAt, before.createdAt, 'createdAt unchanged')
    t.match(after.updatedAt, ISO_MS)
    t.ok(Date.parse(after.updatedAt) >= Date.parse(before.updatedAt), 'updatedAt moves forward')
    t.same((await getArticle(app, created.slug)).json().article, after, 'persisted')
  })

  t.test('tagList replaces the tags', async t => {
    const created = await createArticle(app, jake, { title: 'Tags', tagList: ['one', 'two'] })
    const res = await put(created.slug, { tagList: ['three', 'one', 'three'] })
    t.equal(res.statusCode, 200)
    t.same(res.json().article.tagList, ['one', 'three'])
    t.same((await getArticle(app, created.slug)).json().article.tagList, ['one', 'three'])
    const byTwo = await listArticles(t, app, { tag: 'two' })
    t.notOk(byTwo.articles.some(a => a.slug === created.slug), 'no longer listed under a removed tag')
    const cleared = await put(created.slug, { tagList: [] })
    t.same(cleared.json().article.tagList, [])
  })

  t.test('mass assignment: slug, author, favoritesCount, createdAt ignored', async t => {
    const created = await createArticle(app, jake, { title: 'Guarded' })
    const before = (await getArticle(app, created.slug)).json().article as ArticleJson
    const res = await put(created.slug, {
      slug: 'hijacked',
      author: { username: 'jane' },
      favoritesCount: 99,
      favorited: true,
      createdAt: '2000-01-01T00:00:00.000Z',
      updatedAt: '2000-01-01T00:00:00.000Z',
      description: 'changed'
    })
    t.equal(res.statusCode, 200)
    const after = res.json().article as ArticleJson
    t.match(after, {
      slug: created.slug,
      description: 'changed',
      favoritesCount: 0,
      favorited: false,
      createdAt: before.createdAt,
      author: { username: 'jake' }
    })
    t.not(after.updatedAt, '2000-01-01T00:00:00.000Z')
    assertError(t, await getArticle(app, 'hijacked'), 404, 'article')
    const janes = await listArticles(t, app, { author: 'jane' })
    t.equal(janes.articlesCount, 0, 'not moved to another author')
  })

  t.test('invalid fields: 422', async t => {
    const created = await createArticle(app, jake, { title: 'Valid' })
    assertError(t, await put(created.slug, { title: '' }), 422, 'title')
    assertError(t, await put(created.slug, { title: '   ' }), 422, 'title')
    assertError(t, await put(created.slug, { body: '' }), 422, 'body')
    assertError(t, await put(created.slug, { description: { text: 'x' } }), 422, 'description')
    t.equal((await getArticle(app, created.slug)).json().article.title, 'Valid', 'unchanged')
  })

  t.test('by another user: 403', async t => {
    const created = await createArticle(app, jake, { title: 'Mine' })
    assertError(t, await put(created.slug, { title: 'Yours now' }, jane), 403, 'article')
    t.equal((await getArticle(app, created.slug)).json().article.title, 'Mine', 'unchanged')
  })

  t.test('unknown slug: 404', async t => {
    assertError(t, await put('no-such-article', { title: 'x' }), 404, 'article')
  })

  t.test('no token: 401', async t => {
    const created = await createArticle(app, jake, { title: 'Locked' })
    const res = await app.inject({ method: 'PUT', url: `/api/articles/${created.slug}`, payload: { article: { title: 'x' } } })
    assertError(t, res, 401, 'token')
    t.equal((await getArticle(app, created.slug)).json().article.title, 'Locked', 'unchanged')
  })

  t.test('no token with an invalid body: 401, not 422', async t => {
    const created = await createArticle(app, jake, { title: 'Still locked' })
    const res = await app.inject({ method: 'PUT', url: `/api/articles/${created.slug}`, payload: { article: { title: '' } } })
    assertError(t, res, 401, 'token')
    const unknown = await app.inject({ method: 'PUT', url: '/api/articles/nope', payload: { article: { body: '' } } })
    assertError(t, unknown, 401, 'token')
  })
})

t.test('DELETE /api/articles/:slug', async t => {
  const { app, databaseUrl } = await buildWithDatabase(t)
  const jake = await registerUser(app, 'jake')
  const jane = await registerUser(app, 'jane')

  t.test('by its author: 204, then 404, comments and favorites gone', async t => {
    const created = await createArticle(app, jake, { title: 'Doomed', tagList: ['gone'] })
    await addComment(app, jane, created.slug, 'doomed comment one')
    await addComment(app, jake, created.slug, 'doomed comment two')
    t.equal((await favorite(app, jane, created.slug)).statusCode, 200)

    const res = await app.inject({ method: 'DELETE', url: `/api/articles/${created.slug}`, headers: auth(jake) })
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')

    assertError(t, await getArticle(app, created.slug), 404, 'article')
    assertError(t, await app.inject({ url: `/api/articles/${created.slug}/comments` }), 404, 'article')
    const rows = await queryDatabase<{ n: number }>(
      databaseUrl, "SELECT count(*)::int AS n FROM comments WHERE body LIKE 'doomed comment%'"
    )
    t.same(rows, [{ n: 0 }], 'its comments were deleted')
    t.same(await listArticles(t, app, { favorited: 'jane' }), { articles: [], articlesCount: 0 }, 'favorites gone')
    const again = await app.inject({ method: 'DELETE', url: `/api/articles/${created.slug}`, headers: auth(jake) })
    assertError(t, again, 404, 'article')
  })

  t.test('with JSON content type and an empty body: 204', async t => {
    const created = await createArticle(app, jake, { title: 'Empty body delete' })
    const res = await app.inject({ method: 'DELETE', url: `/api/articles/${created.slug}`, headers: jsonHeaders(jake) })
    t.equal(res.statusCode, 204)
    t.equal((await getArticle(app, created.slug)).statusCode, 404)
  })

  t.test('by another user: 403, article kept', async t => {
    const created = await createArticle(app, jake, { title: 'Not yours' })
    const res = await app.inject({ method: 'DELETE', url: `/api/articles/${created.slug}`, headers: auth(jane) })
    assertError(t, res, 403, 'article')
    t.equal((await getArticle(app, created.slug)).statusCode, 200)
  })

  t.test('unknown slug: 404; no token: 401', async t => {
    assertError(t, await app.inject({ method: 'DELETE', url: '/api/articles/nope', headers: auth(jake) }), 404, 'article')
    const created = await createArticle(app, jake, { title: 'Anon delete' })
    assertError(t, await app.inject({ method: 'DELETE', url: `/api/articles/${created.slug}` }), 401, 'token')
    t.equal((await getArticle(app, created.slug)).statusCode, 200)
  })
})
