import t from 'tap'
import {
  createClient, type Article, type ArticleListItem, type Comment, type Fetched, type MultipleArticles, type Profile, type User
} from '../../client/src/index.js'
import { serve } from './serve.js'

// A frontend's session through the typed client, against the app listening on a port: every value
// is annotated with the client's types, so a schema change that breaks a frontend breaks this file's
// typecheck too (see types.test.ts for the ones that must not compile).

t.test('register, log in, write, favorite, comment, follow, read the feed and the tags', async t => {
  const baseUrl = await serve(t)
  const jake = createClient({ baseUrl })
  const ana = createClient({ baseUrl })

  const registered: User = await jake.createUser({ username: 'jake', email: 'jake@example.com', password: 'jakejakejake' })
  t.match(registered, { username: 'jake', email: 'jake@example.com', bio: '', image: '' })
  t.equal(jake.token, registered.token, 'register keeps the new token')
  await ana.createUser({ username: 'ana', email: 'ana@example.com', password: 'anaanaana' }, { idempotencyKey: 'signup-ana' })

  const again = createClient({ baseUrl })
  t.equal(again.token, null, 'anonymous until logged in')
  const loggedIn: User = await again.login({ email: 'jake@example.com', password: 'jakejakejake' })
  t.equal(again.token, loggedIn.token, 'login keeps the token')
  t.equal((await again.getCurrentUser()).username, 'jake')

  const updated: User = await jake.updateCurrentUser({ bio: 'I work at statefarm', image: null })
  t.equal(updated.bio, 'I work at statefarm')
  t.equal(jake.token, updated.token)

  const created: Article = await jake.createArticle(
    { title: 'How to train your dragon', description: 'Ever wonder how?', body: 'You have to believe', tagList: ['dragons', 'training'] },
    { idempotencyKey: 'dragon-1' })
  t.match(created, { title: 'How to train your dragon', tagList: ['dragons', 'training'], favorited: false, author: { username: 'jake' } })
  const replayed = await jake.createArticle(
    { title: 'How to train your dragon', description: 'Ever wonder how?', body: 'You have to believe', tagList: ['dragons', 'training'] },
    { idempotencyKey: 'dragon-1' })
  t.equal(replayed.slug, created.slug, 'a retry with the same Idempotency-Key gets the same article')

  const edited: Article = await jake.updateArticle(created.slug, { body: 'With love' })
  t.equal(edited.body, 'With love')
  const read: Fetched<Article> = await ana.getArticle(created.slug)
  t.equal(read.body.body, 'With love')
  t.equal(read.notModified, false)

  const favorited: Article = await ana.createArticleFavorite(created.slug)
  t.match(favorited, { favorited: true, favoritesCount: 1 })
  const byAna: MultipleArticles = (await ana.getArticles({ favorited: 'ana' })).body
  t.same(byAna.articles.map((item: ArticleListItem) => item.slug), [created.slug])
  t.match(await ana.deleteArticleFavorite(created.slug), { favorited: false, favoritesCount: 0 })

  const comment: Comment = await ana.createArticleComment(created.slug, { body: 'Thank you so much!' }, { idempotencyKey: 'c1' })
  t.match(comment, { body: 'Thank you so much!', author: { username: 'ana' } })
  await jake.createArticleComment(created.slug, { body: 'You are welcome' })
  const comments = (await ana.getArticleComments(created.slug)).body
  t.same(comments.map(c => c.body), ['You are welcome', 'Thank you so much!'], 'newest first')
  t.equal(await ana.deleteArticleComment(created.slug, comment.id), undefined)
  t.equal((await ana.getArticleComments(created.slug)).body.length, 1)

  const followed: Profile = await ana.followUserByUsername('jake')
  t.match(followed, { username: 'jake', bio: 'I work at statefarm', following: true })
  t.equal((await ana.getProfileByUsername('jake')).body.following, true)
  const feed = (await ana.getArticlesFeed({ limit: 10 })).body
  t.equal(feed.articlesCount, 1)
  t.equal(feed.articles[0]?.slug, created.slug)
  t.equal((await ana.unfollowUserByUsername('jake')).following, false)
  t.equal((await ana.getArticlesFeed()).body.articlesCount, 0, 'nothing followed, nothing in the feed')

  t.same((await ana.getTags()).body.sort(), ['dragons', 'training'])
  const page = (await ana.getArticles({ tag: 'dragons', author: 'jake', limit: 1, offset: 0 })).body
  t.equal(page.articlesCount, 1)

  t.equal(await jake.deleteArticle(created.slug), undefined)
  t.equal((await ana.getArticles()).body.articlesCount, 0)
})

t.test('names that need escaping in a path reach the right resource', async t => {
  const client = createClient({ baseUrl: `${await serve(t)}/` })
  await client.createUser({ username: 'zoë.o-k', email: 'zoe@example.com', password: 'zoezoezoe' })
  const profile = await client.getProfileByUsername('zoë.o-k')
  t.equal(profile.body.username, 'zoë.o-k', 'and a base URL with a trailing slash works')
  const article = await client.createArticle({ title: 'Ça va? 100% & more', description: 'd', body: 'b' })
  t.equal((await client.getArticle(article.slug)).body.title, 'Ça va? 100% & more')
  t.equal((await client.getArticles({ author: 'zoë.o-k' })).body.articlesCount, 1, 'query values are encoded')
})
