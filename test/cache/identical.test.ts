import t, { type Test } from 'tap'
import type { TestUser } from '../helper.js'
import {
  allProbes, answers, buildInstance, cacheOf, differences, redisPrefix, seed, SHARED_REDIS_URL, type Instance
} from './cache-helper.js'

// Cached answers must be byte-identical to uncached ones, whichever tier served them: the cache
// stores normalised rows (and Redis stores them as JSON), so dates, counts, order, flags and
// absent entries all have to come back exactly as PostgreSQL gives them.

const prefix = redisPrefix(t)

/** Waits until the notifications of the seed's writes have all reached the cached instance. */
async function settled (cached: Instance): Promise<void> {
  const count = () => JSON.stringify(cacheOf(cached).metrics.snapshot())
  let last = count()
  for (let quiet = 0, i = 0; quiet < 3 && i < 50; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    const now = count()
    quiet = now === last ? quiet + 1 : 0
    last = now
  }
}

async function compareAllTiers (t: Test, cached: Instance, oracle: Instance, viewers: Array<TestUser | undefined>, extra: string[]) {
  await settled(cached)
  const probes = await allProbes(oracle.app, viewers, extra)
  const expected = await answers(oracle.app, probes)
  t.ok(probes.length > 50, `${probes.length} probes (route × filter × viewer)`)

  t.same(await differences(cached.app, oracle.app, probes, expected), [], 'first read (a miss: from PostgreSQL) = uncached')
  t.same(await differences(cached.app, oracle.app, probes, expected), [], 'second read (in-process tier) = uncached')
  cacheOf(cached).cache.flushHot()
  const before = cacheOf(cached).metrics.snapshot()
  t.same(await differences(cached.app, oracle.app, probes, expected), [], 'read after the in-process tier is emptied = uncached')
  return { before, after: cacheOf(cached).metrics.snapshot() }
}

t.test('every read route: cached = uncached, for anonymous and signed-in viewers', async t => {
  const oracle = await buildInstance(t, { CACHE: 'off' })
  const cached = await buildInstance(t, { REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: prefix.next() }, { databaseUrl: oracle.databaseUrl })
  const { users, slugs } = await seed(oracle.app)
  const [jake, jane, bob] = users as [TestUser, TestUser, TestUser]
  // Routes that answer errors, and reads of things that do not exist, must agree too.
  const extra = ['/api/articles/no-such-slug', '/api/articles/no-such-slug/comments', '/api/profiles/nobody',
    '/api/articles?tag=nonexistent', '/api/articles?author=nobody', '/api/articles?favorited=nobody',
    '/api/articles?tag=dragons&author=' + jake.username, '/api/articles?limit=1&offset=5', '/api/articles?offset=100',
    `/api/articles/${slugs[0]?.toUpperCase() ?? ''}`, '/api/articles/feed', '/api/user']

  const { before, after } = await compareAllTiers(t, cached, oracle, [undefined, jake, jane, bob], extra)
  // The third pass did read from Redis (not only from PostgreSQL again).
  const redisHits = (name: string) => (after[name]?.redisHits ?? 0) - (before[name]?.redisHits ?? 0)
  for (const name of ['article', 'user', 'slug', 'username', 'comments', 'tags', 'favs', 'follows']) {
    t.ok(redisHits(name) > 0, `the last pass read ${name} entries from Redis (${redisHits(name)})`)
  }
})

t.test('in-process only (REDIS_URL unset): cached = uncached', async t => {
  const oracle = await buildInstance(t, { CACHE: 'off' })
  const cached = await buildInstance(t, {}, { databaseUrl: oracle.databaseUrl })
  const { users } = await seed(cached.app, 'p')
  await compareAllTiers(t, cached, oracle, [undefined, ...users], ['/api/profiles/nobody', '/api/articles/nope'])
})

t.test('headers agree too (anonymous answers may come ready-made from the in-process tier)', async t => {
  const oracle = await buildInstance(t, { CACHE: 'off' })
  const cached = await buildInstance(t, { REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: prefix.next() }, { databaseUrl: oracle.databaseUrl })
  const { users, slugs } = await seed(oracle.app, 'h')
  const urls = [`/api/articles/${slugs[0] ?? ''}`, `/api/articles/${slugs[0] ?? ''}/comments`, '/api/articles?limit=2', '/api/tags',
    `/api/profiles/${users[0]?.username ?? ''}`, '/api/articles/nope']
  for (const viewer of [undefined, users[1]]) {
    for (const url of urls) {
      for (let i = 0; i < 3; i++) {
        const headers: Record<string, string> = { origin: 'https://app.example', 'x-request-id': `req-${i}` }
        if (viewer !== undefined) headers.authorization = `Token ${viewer.token}`
        const [a, b] = await Promise.all([cached.app.inject({ url, headers }), oracle.app.inject({ url, headers })])
        const { date: _a, ...got } = a.headers
        const { date: _b, ...want } = b.headers
        t.same(got, want, `${viewer?.username ?? 'anonymous'} GET ${url} (${i + 1}): same headers`)
        t.equal(a.body, b.body, `${viewer?.username ?? 'anonymous'} GET ${url} (${i + 1}): same body`)
      }
    }
  }
  for (const url of urls.slice(0, 4)) {
    const [a, b] = await Promise.all([cached.app.inject({ method: 'HEAD', url }), oracle.app.inject({ method: 'HEAD', url })])
    t.same([a.statusCode, a.headers['content-length'], a.body], [b.statusCode, b.headers['content-length'], b.body], `HEAD ${url}`)
  }
})
