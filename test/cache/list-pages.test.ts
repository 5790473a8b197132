import t from 'tap'
import { registerUser } from '../helper.js'
import { buildInstance, differences, redisPrefix, SHARED_REDIS_URL, write } from './cache-helper.js'

// A list's first 100 ids are one cache entry that pages are sliced from; pages past it are
// entries of their own; the count is kept per filter. Every page around that boundary must
// answer as without the cache, before and after a change that shifts them all.

const prefix = redisPrefix(t)

t.test('pages sliced from the head, pages past it, and the count agree with PostgreSQL', async t => {
  const oracle = await buildInstance(t, { CACHE: 'off' })
  const cached = await buildInstance(t, { REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: prefix.next() }, { databaseUrl: oracle.databaseUrl })
  const author = await registerUser(cached.app, 'lpauthor')
  await cached.sql(`INSERT INTO articles (slug, title, description, body, author_id, created_at)
    SELECT 'lp-' || i, 'Title ' || i, 'd', 'b', (SELECT id FROM users WHERE username = 'lpauthor'), now() - i * interval '1 minute'
    FROM generate_series(1, 130) i`)
  const urls = [[10, 0], [20, 80], [10, 90], [20, 90], [10, 95], [5, 100], [20, 100], [20, 115], [100, 0], [100, 1]]
    .flatMap(([limit, offset]) => [`/api/articles?limit=${limit}&offset=${offset}`, `/api/articles?author=lpauthor&limit=${limit}&offset=${offset}`])
  const probes = urls.map(url => ({ url }))
  // Read twice: the first read may fill the cache, the second is served from it.
  const stale = async () => [
    ...await differences(cached.app, oracle.app, probes),
    ...await differences(cached.app, oracle.app, probes)
  ]
  t.same(await stale(), [], 'every page as without the cache, cached or not')
  await write(cached.app, 'POST', '/api/articles', author, { article: { title: 'Newest', description: 'd', body: 'b' } })
  t.same(await stale(), [], 'after a new article shifted every page by one')
  await write(cached.app, 'DELETE', '/api/articles/lp-100', author)
  t.same(await stale(), [], 'after a deleted one shifted the pages past it back')
})
