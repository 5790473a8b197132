import t, { type Test } from 'tap'
import type { TestUser } from '../helper.js'
import {
  allProbes, buildInstance, checkWrite, get, json, listenProxy, poll, redisPrefix, seed, SHARED_REDIS_URL, write
} from './cache-helper.js'

// Every write through the API, on an instance with Redis: each read that shows what it changed
// (read twice before, so it is cached in both tiers) must show the change right after the write
// is acknowledged — no polling. "Right" is what an instance with CACHE=off answers on the same
// database, compared byte for byte, over every read route × filter × viewer.

const prefix = redisPrefix(t)

interface ArticleBody { article: { slug: string, title: string, body: string, favoritesCount: number, favorited: boolean, tagList: string[], author: { username: string, bio: string, image: string, following: boolean } } }
interface ListBody { articles: Array<{ slug: string, favoritesCount: number, favorited: boolean, author: { username: string, following: boolean } }>, articlesCount: number }
interface CommentsBody { comments: Array<{ id: number, body: string, author: { username: string, bio: string, image: string, following: boolean } }> }

const NOTIFY_DELAY_MS = 2500

t.test('fan-out of API writes', async t => {
  const oracle = await buildInstance(t, { CACHE: 'off' })
  // Change notifications reach the cached instance through a proxy that delays them: what is
  // fresh right after a write is fresh because the write itself invalidated it.
  const listen = await listenProxy(t, oracle.databaseUrl)
  const cached = await buildInstance(t, {
    REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: prefix.next(), DATABASE_LISTEN_URL: listen.url
  }, { databaseUrl: oracle.databaseUrl })
  const { users, slugs } = await seed(cached.app)
  const [jake, jane, bob] = users as [TestUser, TestUser, TestUser]
  const [a0, a1, a2, a3] = slugs as [string, string, string, string]
  const viewers = [undefined, jane, bob]
  const app = cached.app
  listen.proxy.state.delayMs = NOTIFY_DELAY_MS

  await t.test('notifications are delayed: a plain SQL change is not seen at first', async t => {
    const url = `/api/articles/${a2}`
    await json(app, url)
    await json(app, url)
    await cached.sql('UPDATE articles SET body = $1 WHERE slug = $2', ['Changed behind the API', a2])
    const start = Date.now()
    t.equal((await json<ArticleBody>(app, url)).article.body, 'The body of Untagged', 'still the cached body')
    const seen = await poll(async () => (await json<ArticleBody>(app, url)).article.body === 'Changed behind the API', 2 * NOTIFY_DELAY_MS + 1000)
    t.ok(seen, 'seen once the notification arrives')
    t.ok(Date.now() - start > NOTIFY_DELAY_MS / 2, `after ${Date.now() - start} ms`)
  })

  let slowest = 0
  const memo = new Map<string, string>()
  async function scenario (name: string, change: (t: Test) => Promise<void>, check: (t: Test) => Promise<void>) {
    await t.test(name, async t => {
      const { freshAfterMs } = await checkWrite(t, { cached, oracle, memo, probes: () => allProbes(oracle.app, viewers) }, () => change(t))
      slowest = Math.max(slowest, freshAfterMs)
      await check(t)
    })
  }

  await scenario('username, bio and image change', async t => {
    const old = jake.username
    await write(app, 'PUT', '/api/user', jake, { user: { username: `${old}2`, bio: 'New bio', image: 'https://i.example/new.png' } })
    t.equal((await get(app, `/api/profiles/${old}`)).statusCode, 404, 'old username: 404')
    jake.username = `${old}2`
  }, async t => {
    const author = { username: jake.username, bio: 'New bio', image: 'https://i.example/new.png' }
    t.match((await json<{ profile: unknown }>(app, `/api/profiles/${jake.username}`)).profile, author, 'profile')
    t.match((await json<ArticleBody>(app, `/api/articles/${a0}`)).article.author, author, 'single article')
    const list = await json<ListBody>(app, `/api/articles?author=${jake.username}`)
    t.equal(list.articlesCount, 3, 'author= by the new name')
    t.ok(list.articles.every(a => a.author.username === jake.username), 'list items')
    t.match((await json<CommentsBody>(app, `/api/articles/${a3}/comments`)).comments[0]?.author, author, 'comments')
    t.match((await json<ListBody>(app, '/api/articles/feed', jane)).articles[0]?.author, { ...author, following: true }, 'feed')
  })

  await scenario('favorite', async t => {
    const res = await write(app, 'POST', `/api/articles/${a3}/favorite`, bob)
    t.match(res.json(), { article: { favorited: true, favoritesCount: 2 } })
  }, async t => {
    t.match((await json<ArticleBody>(app, `/api/articles/${a3}`, bob)).article, { favorited: true, favoritesCount: 2 })
    t.match((await json<ArticleBody>(app, `/api/articles/${a3}`)).article, { favorited: false, favoritesCount: 2 })
    t.match((await json<ListBody>(app, '/api/articles', bob)).articles.find(a => a.slug === a3), { favorited: true, favoritesCount: 2 })
    t.ok((await json<ListBody>(app, `/api/articles?favorited=${bob.username}`)).articles.some(a => a.slug === a3), 'favorited= list')
  })

  await scenario('unfavorite', async t => {
    await write(app, 'DELETE', `/api/articles/${a0}/favorite`, jane)
  }, async t => {
    t.match((await json<ArticleBody>(app, `/api/articles/${a0}`, jane)).article, { favorited: false, favoritesCount: 1 })
    t.notOk((await json<ListBody>(app, `/api/articles?favorited=${jane.username}`)).articles.some(a => a.slug === a0), 'favorited= list')
  })

  let fresh = ''
  await scenario('new article', async t => {
    // A tag that does not exist yet: its empty list is cached (as a response) before the write.
    for (let i = 0; i < 2; i++) t.equal((await json<ListBody>(app, '/api/articles?tag=brand-new')).articlesCount, 0, 'no such tag yet')
    const res = await write(app, 'POST', '/api/articles', jake, {
      article: { title: 'Brand new', description: 'New', body: 'New body', tagList: ['dragons', 'brand-new'] }
    })
    fresh = res.json().article.slug
  }, async t => {
    for (const url of ['/api/articles', '/api/articles?tag=brand-new', '/api/articles?tag=dragons', `/api/articles?author=${jake.username}`]) {
      t.equal((await json<ListBody>(app, url)).articles[0]?.slug, fresh, `first in ${url}`)
    }
    t.equal((await json<ListBody>(app, '/api/articles/feed', jane)).articles[0]?.slug, fresh, 'first in a follower\'s feed')
    t.equal((await json<ListBody>(app, '/api/articles')).articlesCount, 7, 'count')
    t.ok((await json<{ tags: string[] }>(app, '/api/tags')).tags.includes('brand-new'), 'tags')
  })

  await scenario('deleted article', async t => {
    await write(app, 'DELETE', `/api/articles/${a3}`, jane)
  }, async t => {
    t.equal((await get(app, `/api/articles/${a3}`)).statusCode, 404, 'slug: 404')
    t.equal((await get(app, `/api/articles/${a3}/comments`)).statusCode, 404, 'its comments: 404')
    t.equal((await json<ListBody>(app, '/api/articles')).articlesCount, 6, 'count')
    t.notOk((await json<{ tags: string[] }>(app, '/api/tags')).tags.includes('Ünïcode 🐉'), 'its only tag is gone')
    t.notOk((await json<ListBody>(app, '/api/articles?tag=zoo')).articles.some(a => a.slug === a3), 'tag list')
    t.notOk((await json<ListBody>(app, `/api/articles?favorited=${jake.username}`)).articles.some(a => a.slug === a3), 'favorited list')
  })

  let renamed = ''
  await scenario('title change: new slug', async t => {
    const res = await write(app, 'PUT', `/api/articles/${a1}`, jake, { article: { title: 'Dragons forever' } })
    renamed = res.json().article.slug
    t.not(renamed, a1)
  }, async t => {
    t.equal((await get(app, `/api/articles/${a1}`)).statusCode, 404, 'old slug: 404')
    t.equal((await get(app, `/api/articles/${a1}/comments`)).statusCode, 404, 'old slug comments: 404')
    t.match((await json<ArticleBody>(app, `/api/articles/${renamed}`, jane)).article, { title: 'Dragons forever', favorited: true })
    t.ok((await json<ListBody>(app, '/api/articles')).articles.some(a => a.slug === renamed), 'lists show the new slug')
  })

  await scenario('tagList change', async t => {
    await write(app, 'PUT', `/api/articles/${a0}`, jake, { article: { tagList: ['training', 'flying'] } })
  }, async t => {
    t.same((await json<ArticleBody>(app, `/api/articles/${a0}`)).article.tagList, ['flying', 'training'])
    t.ok((await json<ListBody>(app, '/api/articles?tag=flying')).articles.some(a => a.slug === a0), '?tag= new tag')
    t.notOk((await json<ListBody>(app, '/api/articles?tag=dragons')).articles.some(a => a.slug === a0), '?tag= removed tag')
    t.ok((await json<{ tags: string[] }>(app, '/api/tags')).tags.includes('flying'), 'tags')
  })

  await scenario('body and description change', async t => {
    await write(app, 'PUT', `/api/articles/${a2}`, jake, { article: { body: 'Rewritten', description: 'Redescribed' } })
  }, async t => {
    t.match((await json<ArticleBody>(app, `/api/articles/${a2}`)).article, { body: 'Rewritten', description: 'Redescribed' })
  })

  await scenario('comment added', async t => {
    await write(app, 'POST', `/api/articles/${renamed}/comments`, bob, { comment: { body: 'Fresh comment' } })
  }, async t => {
    t.equal((await json<CommentsBody>(app, `/api/articles/${renamed}/comments`)).comments[0]?.body, 'Fresh comment')
  })

  await scenario('comment deleted', async t => {
    const { comments } = await json<CommentsBody>(app, `/api/articles/${a0}/comments`)
    const mine = comments.find(c => c.body === 'Me again')
    await write(app, 'DELETE', `/api/articles/${a0}/comments/${mine?.id ?? 0}`, jane)
  }, async t => {
    t.notOk((await json<CommentsBody>(app, `/api/articles/${a0}/comments`)).comments.some(c => c.body === 'Me again'))
  })

  await scenario('follow', async t => {
    await write(app, 'POST', `/api/profiles/${bob.username}/follow`, jane)
  }, async t => {
    t.match((await json<{ profile: unknown }>(app, `/api/profiles/${bob.username}`, jane)).profile, { following: true })
    const feed = await json<ListBody>(app, '/api/articles/feed', jane)
    t.ok(feed.articles.some(a => a.author.username === bob.username), 'the feed has the followee\'s articles')
    t.match((await json<ArticleBody>(app, `/api/articles/${slugs[5] ?? ''}`, jane)).article.author, { following: true })
  })

  await scenario('unfollow', async t => {
    await write(app, 'DELETE', `/api/profiles/${jake.username}/follow`, bob)
  }, async t => {
    t.match((await json<{ profile: unknown }>(app, `/api/profiles/${jake.username}`, bob)).profile, { following: false })
    const feed = await json<ListBody>(app, '/api/articles/feed', bob)
    t.notOk(feed.articles.some(a => a.author.username === jake.username), 'the feed lost the unfollowed author')
    t.match((await json<CommentsBody>(app, `/api/articles/${a0}/comments`, bob)).comments.find(c => c.author.username === jane.username)?.author,
      { following: true }, 'comment authors keep their own flags')
  })
  t.ok(slowest < NOTIFY_DELAY_MS, `every "right after" pass ended within ${slowest} ms of its write, before its notification (${NOTIFY_DELAY_MS} ms)`)
})
