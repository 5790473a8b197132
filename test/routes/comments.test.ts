import t from 'tap'
import { addComment, assertError, follow, ISO_MS, jsonHeaders, type CommentJson } from '../articles-helper.js'
import { auth, build, createArticle, registerUser } from '../helper.js'

t.test('comments', async t => {
  const app = await build(t)
  const jake = await registerUser(app, 'jake')
  const jane = await registerUser(app, 'jane')
  const bob = await registerUser(app, 'bob')
  const article = await createArticle(app, jake, { title: 'Commented' })
  const other = await createArticle(app, jake, { title: 'Another' })

  const list = (slug: string, user?: { token: string }) =>
    app.inject({ url: `/api/articles/${slug}/comments`, headers: user === undefined ? {} : auth(user) })
  const remove = (slug: string, id: number | string, user?: { token: string }) =>
    app.inject({ method: 'DELETE', url: `/api/articles/${slug}/comments/${id}`, headers: user === undefined ? {} : auth(user) })

  t.test('no comments yet: empty list', async t => {
    const res = await list(article.slug)
    t.equal(res.statusCode, 200)
    t.same(res.json(), { comments: [] })
  })

  t.test('add: 200 with the comment', async t => {
    const res = await app.inject({
      method: 'POST',
      url: `/api/articles/${article.slug}/comments`,
      headers: auth(jane),
      payload: { comment: { body: 'Thank you so much!' } }
    })
    t.equal(res.statusCode, 200)
    const { comment } = res.json() as { comment: CommentJson }
    t.ok(Number.isInteger(comment.id), 'id is an integer')
    t.match(comment, {
      body: 'Thank you so much!',
      createdAt: ISO_MS,
      updatedAt: ISO_MS,
      author: { username: 'jane', bio: '', image: '', following: false }
    })
    t.same(Object.keys(comment).sort(), ['author', 'body', 'createdAt', 'id', 'updatedAt'])
    t.same(Object.keys(comment.author).sort(), ['bio', 'following', 'image', 'username'])
  })

  t.test('list: anonymous, newest first, following false', async t => {
    const second = await addComment(app, bob, article.slug, 'Second')
    const third = await addComment(app, jake, article.slug, 'Third')
    const res = await list(article.slug)
    t.equal(res.statusCode, 200)
    const comments = (res.json() as { comments: CommentJson[] }).comments
    t.same(comments.map(c => c.body), ['Third', 'Second', 'Thank you so much!'])
    t.same(comments.slice(0, 2).map(c => c.id), [third.id, second.id])
    for (const comment of comments) {
      t.match(comment, { id: Number, createdAt: ISO_MS, updatedAt: ISO_MS, author: { following: false } })
    }
  })

  t.test('list with a token: author.following for that viewer', async t => {
    await follow(app, jane, 'bob')
    const res = await list(article.slug, jane)
    t.equal(res.statusCode, 200)
    const comments = (res.json() as { comments: CommentJson[] }).comments
    const following = Object.fromEntries(comments.map(c => [c.author.username, c.author.following]))
    t.same(following, { jake: false, bob: true, jane: false })
    const asBob = (await list(article.slug, bob)).json() as { comments: CommentJson[] }
    t.ok(asBob.comments.every(c => !c.author.following), 'bob follows no one')
  })

  t.test('list with an invalid token: 401', async t => {
    const res = await app.inject({ url: `/api/articles/${article.slug}/comments`, headers: { authorization: 'Token bogus' } })
    assertError(t, res, 401, 'token')
  })

  t.test('comments belong to their article', async t => {
    t.same((await list(other.slug)).json(), { comments: [] })
  })

  t.test('unknown article: 404 on list, add and delete', async t => {
    assertError(t, await list('no-such-article'), 404, 'article')
    const add = await app.inject({
      method: 'POST', url: '/api/articles/no-such-article/comments', headers: auth(jane), payload: { comment: { body: 'x' } }
    })
    assertError(t, add, 404, 'article')
    const comment = await addComment(app, jane, article.slug, 'exists')
    assertError(t, await remove('no-such-article', comment.id, jane), 404, 'article')
  })

  t.test('add: empty, blank or missing body: 422', async t => {
    const post = (payload: unknown) => app.inject({
      method: 'POST', url: `/api/articles/${article.slug}/comments`, headers: auth(jane), payload: payload as object
    })
    assertError(t, await post({ comment: { body: '' } }), 422, 'body')
    assertError(t, await post({ comment: { body: '  \n ' } }), 422, 'body')
    assertError(t, await post({ comment: {} }), 422, 'body')
    assertError(t, await post({}), 422, 'comment')
  })

  t.test('add without token and with an invalid body: 401, not 422', async t => {
    const url = `/api/articles/${article.slug}/comments`
    assertError(t, await app.inject({ method: 'POST', url, payload: { comment: { body: '' } } }), 401, 'token')
    assertError(t, await app.inject({ method: 'POST', url, payload: {} }), 401, 'token')
  })

  t.test('add: no token 401, bad token 401', async t => {
    const url = `/api/articles/${article.slug}/comments`
    assertError(t, await app.inject({ method: 'POST', url, payload: { comment: { body: 'x' } } }), 401, 'token')
    assertError(t, await app.inject({
      method: 'POST', url, headers: { authorization: 'Token bad' }, payload: { comment: { body: 'x' } }
    }), 401, 'token')
  })

  t.test('delete by its author: 204, gone from the list', async t => {
    const comment = await addComment(app, bob, article.slug, 'to be deleted')
    const res = await remove(article.slug, comment.id, bob)
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    const comments = ((await list(article.slug)).json() as { comments: CommentJson[] }).comments
    t.notOk(comments.some(c => c.id === comment.id))
    assertError(t, await remove(article.slug, comment.id, bob), 404, 'comment')
  })

  t.test('delete with JSON content type and an empty body: 204', async t => {
    const comment = await addComment(app, bob, article.slug, 'empty-body delete')
    const res = await app.inject({
      method: 'DELETE', url: `/api/articles/${article.slug}/comments/${comment.id}`, headers: jsonHeaders(bob)
    })
    t.equal(res.statusCode, 204)
  })

  t.test('delete by another user: 403 (even the article author), comment kept', async t => {
    const comment = await addComment(app, bob, article.slug, 'bob says')
    assertError(t, await remove(article.slug, comment.id, jane), 403, 'comment')
    assertError(t, await remove(article.slug, comment.id, jake), 403, 'comment')
    const comments = ((await list(article.slug)).json() as { comments: CommentJson[] }).comments
    t.ok(comments.some(c => c.id === comment.id), 'still there')
  })

  t.test('delete unknown id: 404', async t => {
    assertError(t, await remove(article.slug, 2147483647, jane), 404, 'comment')
  })

  t.test('delete the id of a comment on another article: 404, comment kept', async t => {
    const comment = await addComment(app, jane, other.slug, 'on the other article')
    assertError(t, await remove(article.slug, comment.id, jane), 404, 'comment')
    const comments = ((await list(other.slug)).json() as { comments: CommentJson[] }).comments
    t.ok(comments.some(c => c.id === comment.id), 'still there')
  })

  t.test('delete with a non-integer id: 422', async t => {
    for (const id of ['abc', '1.5', '0', '-1', '99999999999']) {
      assertError(t, await remove(article.slug, id, jane), 422, 'id')
    }
  })

  t.test('delete without token: 401; bad token: 401', async t => {
    const comment = await addComment(app, jane, article.slug, 'guarded')
    assertError(t, await remove(article.slug, comment.id), 401, 'token')
    const bad = await app.inject({
      method: 'DELETE',
      url: `/api/articles/${article.slug}/comments/${comment.id}`,
      headers: { authorization: 'Token bad' }
    })
    assertError(t, bad, 401, 'token')
    const comments = ((await list(article.slug)).json() as { comments: CommentJson[] }).comments
    t.ok(comments.some(c => c.id === comment.id), 'still there')
  })

  t.test('comments racing the article\'s deletion: 200 or 404, never 500', async t => {
    for (let round = 0; round < 3; round++) {
      const doomed = await createArticle(app, jake, { title: `Short-lived ${round}` })
      const [deleted, ...added] = await Promise.all([
        app.inject({ method: 'DELETE', url: `/api/articles/${doomed.slug}`, headers: auth(jake) }),
        ...Array.from({ length: 8 }, (_, i) => app.inject({
          method: 'POST', url: `/api/articles/${doomed.slug}/comments`, headers: auth(jane), payload: { comment: { body: `racing ${i}` } }
        }))
      ])
      t.equal(deleted?.statusCode, 204)
      for (const res of added) {
        if (res.statusCode === 200) t.equal(res.json().comment.author.username, 'jane')
        else assertError(t, res, 404, 'article')
      }
    }
  })

  t.test('delete without token and with a non-integer id: 401, not 422', async t => {
    assertError(t, await remove(article.slug, 'abc'), 401, 'token')
  })
})
