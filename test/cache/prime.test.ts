import t from 'tap'
import type { TestUser } from '../helper.js'
import { buildInstance, cacheOf, json, poll, redisClient, redisPrefix, seed, SHARED_REDIS_URL, watchQueries, write } from './cache-helper.js'

// A cold article page is one query (slug, article and author together). The article and author
// it loaded are kept in Redis too, so another instance (or this one, once its in-process tier let
// them go) does not query PostgreSQL for them again.

const prefix = redisPrefix(t)

t.test('a cold article page stores its article and author in Redis', async t => {
  const keyPrefix = prefix.next()
  const env = { REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: keyPrefix }
  const a = await buildInstance(t, env)
  const { slugs, users } = await seed(a.app, 'r')
  const [jake] = users as [TestUser]
  const slug = slugs[1] as string
  const [row] = await a.sql<{ id: number, authorId: number }>('SELECT id, author_id AS "authorId" FROM articles WHERE slug = $1', [slug])
  const { id, authorId } = row as { id: number, authorId: number }
  const redis = redisClient(t)
  const articleKey = `${keyPrefix}:v1:article:${id}`
  const userKey = `${keyPrefix}:v1:user:${authorId}`
  await redis.del(articleKey, userKey, `${keyPrefix}:v1:slug:${slug}`)
  cacheOf(a).cache.flushHot()

  const { article } = await json<{ article: { title: string } }>(a.app, `/api/articles/${slug}`)
  const stored = await poll(async () => {
    const values = await redis.mget(articleKey, userKey)
    return values.every(value => value !== null) ? values : undefined
  })
  t.match(stored?.[0], article.title, 'the article is in Redis')
  t.match(stored?.[1], jake.username, 'its author is in Redis')

  const b = await buildInstance(t, env, { databaseUrl: a.databaseUrl })
  const queries = watchQueries(b)
  // B connects to Redis in the background: until it has, it reads PostgreSQL.
  const fromRedis = await poll(async () => {
    cacheOf(b).cache.flushHot()
    const before = queries.texts.length
    t.match(await json(b.app, `/api/articles/${slug}`), { article: { title: article.title } })
    return queries.texts.length === before
  }, 3000)
  t.ok(fromRedis, 'another instance reads the article page with no query for its slug, article or author')

  await write(a.app, 'PUT', `/api/articles/${slug}`, jake, { article: { body: 'Changed after the prime' } })
  t.notMatch(await redis.get(articleKey) ?? '', 'The body of', 'a change replaced the stored article')
  t.match(await json(b.app, `/api/articles/${slug}`), { article: { body: 'Changed after the prime' } }, 'and both instances read the change')
})
