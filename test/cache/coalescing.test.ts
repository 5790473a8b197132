import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import type { TestUser } from '../helper.js'
import {
  buildInstance, cacheOf, FETCH, get, json, read, redisPrefix, SHARED_REDIS_URL, until, watchQueries, write, type Instance
} from './cache-helper.js'
import { registerUser } from '../helper.js'

// Concurrent misses of one key share one PostgreSQL fetch (counted twice: by the cache's own
// metrics and by wrapping the pool's query), and a read that begins after a write was
// acknowledged never shares a fetch that began before it.

const prefix = redisPrefix(t)
const N = 50

type Counters = Record<string, { misses: number, coalesced: number, hotHits: number, redisHits: number }>
const delta = (after: Counters, before: Counters, name: string, counter: 'misses' | 'coalesced' | 'hotHits' | 'redisHits') =>
  (after[name]?.[counter] ?? 0) - (before[name]?.[counter] ?? 0)

/** Inserts an article by SQL (so nothing of it is cached) and waits until its notification was applied. */
async function sqlArticle (instance: Instance, authorId: number, slug: string): Promise<number> {
  const before = cacheOf(instance).metrics.snapshot().slug?.invalidations ?? 0
  const [row] = await instance.sql<{ id: number }>(
    'INSERT INTO articles (slug, title, description, body, author_id) VALUES ($1, $1, \'d\', \'b\', $2) RETURNING id', [slug, authorId])
  await until(() => (cacheOf(instance).metrics.snapshot().slug?.invalidations ?? 0) > before, 'the insert notification')
  await instance.sql("INSERT INTO comments (article_id, author_id, body) VALUES ($1, $2, 'First')", [row?.id, authorId])
  await sleep(100) // its notification too
  return row?.id ?? -1
}

async function setup (t: Test, env: Record<string, string>) {
  const instance = await buildInstance(t, env)
  const jake = await registerUser(instance.app, 'cjake')
  const jane = await registerUser(instance.app, 'cjane')
  const [row] = await instance.sql<{ id: number }>('SELECT id FROM users WHERE username = $1', ['cjake'])
  return { instance, jake, jane, jakeId: row?.id ?? -1 }
}

for (const [mode, env] of [['Redis', { REDIS_URL: SHARED_REDIS_URL }], ['in-process only', {}]] as const) {
  t.test(`${N} concurrent reads of one uncached key: one fetch (${mode})`, async t => {
    const { instance, jake, jane, jakeId } = await setup(t, { ...env, REDIS_PREFIX: prefix.next() })
    const app = instance.app
    const { metrics } = cacheOf(instance)

    async function burst (t: Test, what: string, url: (i: number) => string, viewer: (i: number) => TestUser | undefined,
      fetches: Array<[keyof typeof FETCH, string, number]>) {
      const queries = watchQueries(instance)
      const before = metrics.snapshot() as Counters
      const answers = await Promise.all(Array.from({ length: N }, (_, i) => read(app, url(i), viewer(i))))
      const after = metrics.snapshot() as Counters
      queries.restore()
      t.ok(answers.every(a => a.startsWith('200 ')), `${what}: all 200`)
      const bodies = new Set(answers.map((a, i) => `${viewer(i)?.username ?? ''} ${a}`))
      t.ok(bodies.size <= 2, `${what}: one answer per viewer`)
      for (const [fetch, name, expected] of fetches) {
        t.equal(queries.count(FETCH[fetch]), expected, `${what}: ${expected} ${fetch} quer${expected === 1 ? 'y' : 'ies'} in PostgreSQL`)
        if (expected === 1) t.equal(delta(after, before, name, 'misses'), 1, `${what}: the cache counted one ${name} miss`)
      }
      return { before, after }
    }

    await t.test('an article by slug, anonymous', async t => {
      await sqlArticle(instance, jakeId, 'coalesce-anonymous')
      const { before, after } = await burst(t, 'article', () => '/api/articles/coalesce-anonymous', () => undefined, [['slugs', 'slug', 1]])
      t.equal(delta(after, before, 'slug', 'coalesced'), N - 1, `the other ${N - 1} waited for it`)
    })

    await t.test('an article by slug, half of the readers signed in', async t => {
      await sqlArticle(instance, jakeId, 'coalesce-mixed')
      await burst(t, 'article', () => '/api/articles/coalesce-mixed', i => i % 2 === 0 ? jane : undefined,
        [['slugs', 'slug', 1], ['favorites', 'favs', 1], ['follows', 'follows', 1]])
    })

    await t.test('its comments', async t => {
      await sqlArticle(instance, jakeId, 'coalesce-comments')
      await json(app, '/api/articles/coalesce-comments') // the slug is cached: only the comments miss
      const { before, after } = await burst(t, 'comments', () => '/api/articles/coalesce-comments/comments', () => undefined, [['comments', 'comments', 1]])
      t.equal(delta(after, before, 'comments', 'coalesced'), N - 1, `the other ${N - 1} waited for it`)
    })

    await t.test('a list page', async t => {
      await sqlArticle(instance, jakeId, 'coalesce-list')
      // A first page comes from the list's head (its first 100 ids, one entry); a deep page is an entry of its own.
      const head = await burst(t, 'list head', () => '/api/articles?limit=7', () => undefined, [['listPage', 'head', 1]])
      t.equal(delta(head.after, head.before, 'head', 'coalesced'), N - 1, `the other ${N - 1} waited for it`)
      const deep = await burst(t, 'deep page', () => '/api/articles?limit=7&offset=200', () => undefined, [['listPage', 'list', 1]])
      t.equal(delta(deep.after, deep.before, 'list', 'coalesced'), N - 1, `the other ${N - 1} waited for it`)
    })

    await t.test('a profile', async t => {
      await write(app, 'PUT', '/api/user', jake, { user: { bio: 'uncached again' } })
      await burst(t, 'profile', () => `/api/profiles/${jake.username}`, i => i % 2 === 0 ? jane : undefined,
        [['users', 'user', 1]])
    })

    await t.test('many different articles at once: one fetch per key, never two', async t => {
      const slugs = Array.from({ length: 10 }, (_, i) => `coalesce-many-${i}`)
      for (const slug of slugs) await sqlArticle(instance, jakeId, slug)
      const queries = watchQueries(instance)
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => get(app, `/api/articles/${slugs[i % slugs.length] ?? ''}`)))
      queries.restore()
      t.ok(answers.every(a => a.statusCode === 200), 'all 200')
      t.ok(queries.count(FETCH.slugs) <= slugs.length, `${queries.count(FETCH.slugs)} slug queries for ${slugs.length} slugs`)
    })
  })
}

t.test('a fetch that began before an acknowledged write: no read that begins after the write gets its result, now or later', async t => {
  const { instance, jake, jane, jakeId } = await setup(t, { REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: prefix.next() })
  const app = instance.app

  /**
   * R1 starts and its fetch gets its (old) rows, then is held; the write goes through and is
   * acknowledged; R2 starts and reaches the cache; R1 is released. R2 must show the write.
   */
  async function race (t: Test, what: string, fetch: RegExp, url: string, viewer: TestUser | undefined,
    change: () => Promise<unknown>, shows: (body: string) => boolean) {
    const other = await registerUser(app)
    let release: () => void = () => {}
    let held = false
    const reached = new Promise<void>(resolve => {
      const queries = watchQueries(instance, text => {
        if (held || !fetch.test(text)) return undefined
        held = true
        resolve()
        return new Promise<void>(resolve => { release = resolve }).finally(() => queries.restore())
      })
    })
    const r1 = read(app, url, viewer)
    await reached
    await change()
    const r2 = read(app, url, viewer)
    await sleep(50) // R2 is waiting on the cache by now
    release()
    const [first, second] = await Promise.all([r1, r2])
    t.comment(`${what}: R1, which began before the write, showed ${shows(first) ? 'the new' : 'the old'} data`)
    t.ok(shows(second), `${what}: R2, which began after the write was acknowledged, shows it`)
    for (const who of [viewer, undefined, other]) {
      t.ok(shows(await read(app, url, who)), `${what}: so does a later read as ${who?.username ?? 'anonymous'} (R1's result was not kept)`)
    }
  }

  await t.test('comments', async t => {
    await sqlArticle(instance, jakeId, 'race-comments')
    await json(app, '/api/articles/race-comments')
    await race(t, 'comments', FETCH.comments, '/api/articles/race-comments/comments', jane,
      () => write(app, 'POST', '/api/articles/race-comments/comments', jane, { comment: { body: 'Written during the fetch' } }),
      body => body.includes('Written during the fetch'))
  })

  await t.test('a list page', async t => {
    await race(t, 'list', FETCH.listPage, '/api/articles?limit=3', jane,
      () => write(app, 'POST', '/api/articles', jake, { article: { title: 'Listed during the fetch', description: 'd', body: 'b' } }),
      body => body.includes('Listed during the fetch'))
  })

  await t.test('an article (its count and the viewer\'s flag)', async t => {
    const id = await sqlArticle(instance, jakeId, 'race-article')
    const [viewer] = await instance.sql<{ id: number }>('SELECT id FROM users WHERE username = $1', [jane.username])
    // The cold page's one query (slug, article and author) is held; the write is the favorite
    // route's own write and invalidation (the route itself would first read the held article).
    await race(t, 'article', FETCH.slugs, '/api/articles/race-article', jane,
      () => instance.repos.articles.favorite(viewer?.id ?? -1, id),
      body => body.includes('"favoritesCount":1'))
  })
})
