import t from 'tap'
import {
  assertError, favorite, getArticle, jsonHeaders, listArticles, unfavorite, type ArticleJson
} from '../articles-helper.js'
import { auth, build, createArticle, registerUser } from '../helper.js'

t.test('favorite and unfavorite', async t => {
  const app = await build(t)
  const jake = await registerUser(app, 'jake')
  const jane = await registerUser(app, 'jane')
  const article = await createArticle(app, jake, { title: 'Favorable', body: 'The body' })

  t.test('favorite: 200 with the article, favorited, counted', async t => {
    const res = await favorite(app, jane, article.slug)
    t.equal(res.statusCode, 200)
    const body = res.json() as { article: ArticleJson }
    t.match(body.article, {
      slug: article.slug,
      title: 'Favorable',
      body: 'The body',
      favorited: true,
      favoritesCount: 1,
      author: { username: 'jake', following: false }
    })
  })

  t.test('favorite again: idempotent', async t => {
    const res = await favorite(app, jane, article.slug)
    t.equal(res.statusCode, 200)
    t.match(res.json().article, { favorited: true, favoritesCount: 1 })
  })

  t.test('flags are per viewer; count is shared', async t => {
    t.match((await getArticle(app, article.slug, jane)).json().article, { favorited: true, favoritesCount: 1 })
    t.match((await getArticle(app, article.slug, jake)).json().article, { favorited: false, favoritesCount: 1 })
    t.match((await getArticle(app, article.slug)).json().article, { favorited: false, favoritesCount: 1 })

    const asJane = await listArticles(t, app, {}, jane)
    t.match(asJane.articles.find(a => a.slug === article.slug), { favorited: true, favoritesCount: 1 })
    const asJake = await listArticles(t, app, {}, jake)
    t.match(asJake.articles.find(a => a.slug === article.slug), { favorited: false, favoritesCount: 1 })
    const anon = await listArticles(t, app)
    t.match(anon.articles.find(a => a.slug === article.slug), { favorited: false, favoritesCount: 1 })
  })

  t.test('favorited= filter reflects it', async t => {
    const list = await listArticles(t, app, { favorited: 'jane' })
    t.equal(list.articlesCount, 1)
    t.same(list.articles.map(a => a.slug), [article.slug])
    t.same(await listArticles(t, app, { favorited: 'jake' }), { articles: [], articlesCount: 0 })
  })

  t.test('the author can favorite their own article', async t => {
    const res = await favorite(app, jake, article.slug)
    t.equal(res.statusCode, 200)
    t.match(res.json().article, { favorited: true, favoritesCount: 2 })
    t.equal((await listArticles(t, app, { favorited: 'jake' })).articlesCount, 1)
  })

  t.test('unfavorite: 200, not favorited, count down', async t => {
    const res = await unfavorite(app, jane, article.slug)
    t.equal(res.statusCode, 200)
    t.match(res.json().article, { slug: article.slug, body: 'The body', favorited: false, favoritesCount: 1 })
    t.same(await listArticles(t, app, { favorited: 'jane' }), { articles: [], articlesCount: 0 })
    t.match((await getArticle(app, article.slug, jane)).json().article, { favorited: false, favoritesCount: 1 })
  })

  t.test('unfavorite again, or never favorited: idempotent', async t => {
    const again = await unfavorite(app, jane, article.slug)
    t.equal(again.statusCode, 200)
    t.match(again.json().article, { favorited: false, favoritesCount: 1 })
    const stranger = await registerUser(app)
    const never = await unfavorite(app, stranger, article.slug)
    t.equal(never.statusCode, 200)
    t.match(never.json().article, { favorited: false, favoritesCount: 1 })
  })

  t.test('without content type, or with a JSON body of {}: also works', async t => {
    const plain = await app.inject({ method: 'POST', url: `/api/articles/${article.slug}/favorite`, headers: auth(jane) })
    t.equal(plain.statusCode, 200)
    t.equal(plain.json().article.favorited, true)
    const withBody = await app.inject({
      method: 'DELETE', url: `/api/articles/${article.slug}/favorite`, headers: auth(jane), payload: {}
    })
    t.equal(withBody.statusCode, 200)
    t.equal(withBody.json().article.favorited, false)
    const explicitEmpty = await app.inject({
      method: 'POST', url: `/api/articles/${article.slug}/favorite`, headers: jsonHeaders(jane), payload: ''
    })
    t.equal(explicitEmpty.statusCode, 200)
    t.equal(explicitEmpty.json().article.favorited, true)
  })

  t.test('unknown slug: 404', async t => {
    assertError(t, await favorite(app, jane, 'no-such-article'), 404, 'article')
    assertError(t, await unfavorite(app, jane, 'no-such-article'), 404, 'article')
  })

  t.test('no token: 401; bad token: 401', async t => {
    for (const method of ['POST', 'DELETE'] as const) {
      const url = `/api/articles/${article.slug}/favorite`
      assertError(t, await app.inject({ method, url, headers: { 'content-type': 'application/json' } }), 401, 'token')
      assertError(t, await app.inject({ method, url, headers: { authorization: 'Token bad' } }), 401, 'token')
    }
    t.equal((await getArticle(app, article.slug)).json().article.favoritesCount, 2, 'unchanged')
  })
})

t.test('favorites survive a title change', async t => {
  const app = await build(t)
  const jake = await registerUser(app, 'jake')
  const jane = await registerUser(app, 'jane')
  const article = await createArticle(app, jake, { title: 'Before' })
  await favorite(app, jane, article.slug)
  const res = await app.inject({
    method: 'PUT', url: `/api/articles/${article.slug}`, headers: auth(jake), payload: { article: { title: 'After' } }
  })
  t.equal(res.statusCode, 200)
  const renamed = res.json().article as ArticleJson
  t.not(renamed.slug, article.slug)
  t.match((await getArticle(app, renamed.slug, jane)).json().article, { favorited: true, favoritesCount: 1 })
  assertError(t, await favorite(app, jane, article.slug), 404, 'article')
})

t.test('concurrency', async t => {
  const app = await build(t)
  const jake = await registerUser(app, 'jake')

  t.test('20 users favorite in parallel: count 20', async t => {
    const article = await createArticle(app, jake, { title: 'Popular' })
    const fans = await Promise.all(Array.from({ length: 20 }, () => registerUser(app)))
    const responses = await Promise.all(fans.map(fan => favorite(app, fan, article.slug)))
    t.same(responses.map(r => r.statusCode), Array(20).fill(200), 'every favorite answered 200')
    t.ok(responses.every(r => r.json().article.favorited === true), 'each saw its own favorite')
    const counts = responses.map(r => r.json().article.favoritesCount as number)
    t.ok(counts.every(c => c >= 1 && c <= 20), 'counts within bounds')
    t.ok(counts.includes(20), 'the last one saw all 20')
    t.equal((await getArticle(app, article.slug)).json().article.favoritesCount, 20)
    const listed = (await listArticles(t, app, { author: 'jake' })).articles.find(a => a.slug === article.slug)
    t.equal(listed?.favoritesCount, 20, 'list agrees')

    const unfavorites = await Promise.all(fans.slice(0, 5).map(fan => unfavorite(app, fan, article.slug)))
    t.ok(unfavorites.every(r => r.statusCode === 200))
    t.equal((await getArticle(app, article.slug)).json().article.favoritesCount, 15)
  })

  t.test('one user favorites 10 times in parallel: count 1', async t => {
    const article = await createArticle(app, jake, { title: 'Clicked a lot' })
    const fan = await registerUser(app)
    const responses = await Promise.all(Array.from({ length: 10 }, () => favorite(app, fan, article.slug)))
    t.same(responses.map(r => r.statusCode), Array(10).fill(200))
    t.ok(responses.every(r => r.json().article.favorited === true && r.json().article.favoritesCount === 1))
    t.match((await getArticle(app, article.slug, fan)).json().article, { favorited: true, favoritesCount: 1 })

    const undone = await Promise.all(Array.from({ length: 10 }, () => unfavorite(app, fan, article.slug)))
    t.same(undone.map(r => r.statusCode), Array(10).fill(200))
    t.match((await getArticle(app, article.slug, fan)).json().article, { favorited: false, favoritesCount: 0 })
  })

  t.test('favorites racing the article\'s deletion: 200 or 404, never 500', async t => {
    const fans = await Promise.all(Array.from({ length: 8 }, () => registerUser(app)))
    for (let round = 0; round < 3; round++) {
      const article = await createArticle(app, jake, { title: `Short-lived ${round}` })
      const [deleted, ...favorites] = await Promise.all([
        app.inject({ method: 'DELETE', url: `/api/articles/${article.slug}`, headers: auth(jake) }),
        ...fans.map(fan => favorite(app, fan, article.slug))
      ])
      t.equal(deleted?.statusCode, 204)
      for (const res of favorites) {
        // A 200 read after the delete committed may show favorited: false; only 500s are wrong.
        if (res.statusCode === 200) t.equal(res.json().article.slug, article.slug)
        else assertError(t, res, 404, 'article')
      }
    }
  })

  t.test('parallel favorites and unfavorites by the same user settle on a consistent state', async t => {
    const article = await createArticle(app, jake, { title: 'Toggled' })
    const fan = await registerUser(app)
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      i % 2 === 0 ? favorite(app, fan, article.slug) : unfavorite(app, fan, article.slug)))
    t.ok(responses.every(r => r.statusCode === 200))
    const final = (await getArticle(app, article.slug, fan)).json().article as ArticleJson
    t.equal(final.favoritesCount, final.favorited ? 1 : 0)
  })
})
