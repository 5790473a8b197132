import t, { type Test } from 'tap'
import type { TestUser } from '../helper.js'
import {
  allProbes, answers, buildInstance, cacheOf, checkWrite, json, ownRedis, redisClient, redisPrefix, seed, SHARED_REDIS_URL, write,
  type Probe
} from './cache-helper.js'

// Writes that bypass the API (plain SQL on every table, every operation, and statements too big
// to name their rows) reach the cache only through the change notifications: each must be seen
// through the API within 1 s, after the value was cached (read twice), in both tiers.

const prefix = redisPrefix(t)
const DEADLINE_MS = 1000
// The three groups below use databases and apps of their own: they run side by side.
t.jobs = 3

async function setup (t: Test) {
  const oracle = await buildInstance(t, { CACHE: 'off' })
  const cached = await buildInstance(t, { REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: prefix.next() }, { databaseUrl: oracle.databaseUrl })
  return { oracle, cached, sql: cached.sql }
}

t.test('plain SQL on each table', async t => {
  const { oracle, cached, sql } = await setup(t)
  const { users, slugs } = await seed(cached.app, 'd')
  const [jake, jane, bob] = users as [TestUser, TestUser, TestUser]
  const [a0, a1, a2, a3, a4, a5] = slugs as [string, string, string, string, string, string]
  const viewers = [undefined, bob]
  const id = async (table: 'users' | 'articles' | 'tags', column: string, value: string) =>
    (await sql<{ id: number }>(`SELECT id FROM ${table} WHERE ${column} = $1`, [value]))[0]?.id ?? -1
  const user = (u: TestUser | string) => id('users', 'username', typeof u === 'string' ? u : u.username)
  const article = (slug: string) => id('articles', 'slug', slug)
  const tag = (name: string) => id('tags', 'name', name)

  const memo = new Map<string, string>()
  async function sqlChange (name: string, change: () => Promise<unknown>, extra: string[] = []) {
    await t.test(name, async t => {
      const { freshAfterMs } = await checkWrite(t, {
        cached, oracle, deadlineMs: DEADLINE_MS, memo, probes: () => allProbes(oracle.app, viewers, extra)
      }, async () => { await change() })
      t.comment(freshAfterMs === 0 ? 'no stale read' : `stale reads until ${freshAfterMs} ms after the commit`)
    })
  }

  // users
  await sqlChange('users INSERT', () => sql(
    "INSERT INTO users (username, email, password_hash, bio) VALUES ('dnew', 'dnew@x', 'h', 'Inserted by SQL')"
  ), ['/api/profiles/dnew'])
  await sqlChange('users UPDATE: bio and image', async () => sql(
    "UPDATE users SET bio = 'Changed by SQL', image = 'https://i.example/sql.png' WHERE id = $1", [await user(jane)]),
  [`/api/profiles/${jane.username}`])
  await sqlChange('users UPDATE: username (rename)', async () => {
    await sql('UPDATE users SET username = $1 WHERE id = $2', [`${bob.username}x`, await user(bob)])
    bob.username = `${bob.username}x`
  })
  await sqlChange('users UPDATE: email (GET /api/user)', async () => sql(
    "UPDATE users SET email = 'bob.new@example.com' WHERE id = $1", [await user(bob)]))

  // articles
  await sqlChange('articles INSERT', async () => sql(
    `INSERT INTO articles (slug, title, description, body, author_id)
     VALUES ('sql-article', 'SQL article', 'By SQL', 'Inserted by SQL', $1)`, [await user(jake)]
  ), ['/api/articles/sql-article', '/api/articles/sql-article/comments'])
  await sqlChange('articles UPDATE: title, body', async () => sql(
    "UPDATE articles SET title = 'Retitled by SQL', body = 'Rewritten by SQL', updated_at = now() WHERE slug = $1", [a2]))
  await sqlChange('articles UPDATE: slug', async () => sql("UPDATE articles SET slug = 'moved-by-sql' WHERE slug = $1", [a1]))
  await sqlChange('articles UPDATE: author', async () => sql(
    'UPDATE articles SET author_id = $1 WHERE slug = $2', [await user(bob), a2]))
  await sqlChange('articles UPDATE: created_at (moves it in every list)', async () => sql(
    "UPDATE articles SET created_at = now() + interval '1 day' WHERE slug = $1", [a3]))
  await sqlChange('articles DELETE', () => sql('DELETE FROM articles WHERE slug = $1', [a4]))

  // tags and article_tags
  await sqlChange('tags INSERT (then tagging an article with it)', async () => {
    await sql("INSERT INTO tags (name) VALUES ('sql-tag')")
    await sql("INSERT INTO article_tags (article_id, tag_id) SELECT $1, id FROM tags WHERE name = 'sql-tag'", [await article(a0)])
  }, ['/api/articles?tag=sql-tag'])
  await sqlChange('tags UPDATE: rename', () => sql("UPDATE tags SET name = 'dragons-renamed' WHERE name = 'dragons'"),
    ['/api/articles?tag=dragons-renamed'])
  await sqlChange('tags DELETE (cascading to article_tags)', () => sql("DELETE FROM tags WHERE name = 'training'"))
  await sqlChange('article_tags INSERT', async () => sql(
    'INSERT INTO article_tags (article_id, tag_id) VALUES ($1, $2)', [await article(a5), await tag('zoo')]))
  await sqlChange('article_tags UPDATE', async () => sql(
    'UPDATE article_tags SET tag_id = $1 WHERE article_id = $2 AND tag_id = $3', [await tag('sql-tag'), await article(a5), await tag('zoo')]))
  await sqlChange('article_tags DELETE', async () => sql('DELETE FROM article_tags WHERE article_id = $1', [await article(a3)]))

  // favorites
  await sqlChange('favorites INSERT', async () => sql(
    'INSERT INTO favorites (user_id, article_id) VALUES ($1, $2)', [await user(bob), await article(a3)]))
  await sqlChange('favorites UPDATE', async () => sql(
    'UPDATE favorites SET article_id = $1 WHERE user_id = $2 AND article_id = $3', [await article(a5), await user(bob), await article(a3)]))
  await sqlChange('favorites DELETE', async () => sql('DELETE FROM favorites WHERE user_id = $1', [await user(jane)]))

  // follows
  await sqlChange('follows DELETE', async () => sql(
    'DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2', [await user(bob), await user(jane)]))
  await sqlChange('follows INSERT', async () => sql(
    'INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [await user(bob), await user(jane)]))
  await sqlChange('follows UPDATE', async () => sql(
    'UPDATE follows SET followee_id = $1 WHERE follower_id = $2 AND followee_id = $3', [await user('dnew'), await user(bob), await user(jake)]),
  ['/api/profiles/dnew'])

  // comments
  await sqlChange('comments INSERT', async () => sql(
    "INSERT INTO comments (article_id, author_id, body) VALUES ($1, $2, 'Commented by SQL')", [await article(a0), await user(bob)]))
  await sqlChange('comments UPDATE', async () => sql(
    "UPDATE comments SET body = 'Edited by SQL', updated_at = now() WHERE body = 'Nice dragons'"))
  await sqlChange('comments DELETE', async () => sql("DELETE FROM comments WHERE body = 'Agreed'"))

  // several statements in one transaction: one commit, several notifications
  await sqlChange('one transaction over several tables', async () => {
    await sql('BEGIN')
    await sql("UPDATE users SET bio = 'In a transaction' WHERE id = $1", [await user(jake)])
    await sql("UPDATE articles SET description = 'In a transaction' WHERE slug = $1", [a0])
    await sql('INSERT INTO favorites (user_id, article_id) VALUES ($1, $2)', [await user(jane), await article(a0)])
    await sql('COMMIT')
  })

  // users DELETE last: it cascades to the user's articles, comments, favorites and follows
  await sqlChange('users DELETE (cascading)', async () => sql('DELETE FROM users WHERE id = $1', [await user(jake)]))
  t.equal((await cached.app.inject({ url: '/api/user', headers: { authorization: `Token ${jake.token}` } })).statusCode, 401,
    'the deleted user\'s token no longer signs in')
})

t.test('statements too big to name their rows (the `all: true` path)', async t => {
  const { oracle, cached, sql } = await setup(t)
  const { users, slugs } = await seed(cached.app, 'b')
  const [jake, jane] = users as [TestUser, TestUser]
  await sql(`INSERT INTO articles (slug, title, description, body, author_id, created_at)
             SELECT 'bulk-' || g, 'Bulk ' || g, 'Bulk', 'Bulk body', (SELECT id FROM users WHERE username = $1),
                    now() - interval '1 day' - g * interval '1 second'
             FROM generate_series(1, 250) g`, [jane.username])
  await sql(`INSERT INTO users (username, email, password_hash) SELECT 'bulkuser' || g, 'bulkuser' || g || '@x', 'h'
             FROM generate_series(1, 210) g`)
  // A probe set that stays small: lists, a few articles (seeded and bulk), profiles.
  const articleUrls = [...slugs.slice(0, 4), 'bulk-1', 'bulk-250'].flatMap(s => [`/api/articles/${s}`, `/api/articles/${s}/comments`])
  const urls = ['/api/articles', '/api/articles?limit=100&offset=150', `/api/articles?author=${jane.username}`,
    `/api/articles?favorited=${jake.username}`, '/api/articles?tag=dragons', '/api/tags', ...articleUrls,
    `/api/profiles/${jake.username}`, '/api/profiles/bulkuser7', '/api/articles/feed', '/api/user']
  const probes = async (): Promise<Probe[]> => [undefined, jake].flatMap(viewer =>
    urls.filter(url => viewer !== undefined || !['/api/articles/feed', '/api/user'].includes(url)).map(url => ({ url, viewer })))

  const memo = new Map<string, string>()
  async function bulk (name: string, change: () => Promise<unknown>) {
    await t.test(name, async t => {
      const { freshAfterMs } = await checkWrite(t, { cached, oracle, deadlineMs: DEADLINE_MS, memo, probes }, async () => { await change() })
      t.comment(freshAfterMs === 0 ? 'no stale read' : `stale reads until ${freshAfterMs} ms after the commit`)
    })
  }

  await bulk('UPDATE of 250+ articles', () => sql("UPDATE articles SET description = description || ' (bulk)', updated_at = now()"))
  await bulk('UPDATE of 210+ users', () => sql("UPDATE users SET bio = 'Bulk bio', image = 'https://i.example/bulk.png'"))
  await bulk('INSERT of 250 favorites', () => sql(
    "INSERT INTO favorites (user_id, article_id) SELECT (SELECT id FROM users WHERE username = $1), id FROM articles WHERE slug LIKE 'bulk-%'",
    [jake.username]))
  await bulk('INSERT of 250 article_tags', () => sql(
    "INSERT INTO article_tags (article_id, tag_id) SELECT a.id, t.id FROM articles a, tags t WHERE a.slug LIKE 'bulk-%' AND t.name = 'dragons'"))
  await bulk('tag rename (every article may show it)', () => sql("UPDATE tags SET name = 'wyverns' WHERE name = 'dragons'"))
  await bulk('TRUNCATE comments', () => sql('TRUNCATE comments'))
  await bulk('DELETE of 250 articles', () => sql("DELETE FROM articles WHERE slug LIKE 'bulk-%'"))
  await bulk('follows: INSERT of 210 rows', () => sql(
    'INSERT INTO follows (follower_id, followee_id) SELECT (SELECT id FROM users WHERE username = $1), id FROM users WHERE username <> $1',
    [jake.username]))
  await write(cached.app, 'POST', '/api/articles', jane, { article: { title: 'After the bulk', description: 'd', body: 'b' } })
  t.equal((await json<{ articlesCount: number }>(cached.app, '/api/articles')).articlesCount, 7, 'API writes after them: counted')
})

t.test('a bulk change with a large Redis keyspace: reads right after it do not keep old values', async t => {
  // Dropping every entry of a kind must not depend on the size of the keyspace (a SCAN over
  // it takes long, and reads taken from Redis while it runs were kept in-process): here
  // 200 000 other keys, on a redis-server of this test's own, and reads keep coming meanwhile.
  const own = await ownRedis(t)
  await redisClient(t, own.url).eval("for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'other:' .. i, 'x') end", 0, 200000)
  const oracle = await buildInstance(t, { CACHE: 'off' })
  const cached = await buildInstance(t, { REDIS_URL: own.url, REDIS_PREFIX: prefix.next() }, { databaseUrl: oracle.databaseUrl })
  const { users, slugs } = await seed(cached.app, 's')
  const probes: Probe[] = [undefined, users[1]].flatMap(viewer => [...slugs.map(s => `/api/articles/${s}`), '/api/articles', '/api/articles?tag=dragons']
    .map(url => ({ url, viewer })))
  await answers(cached.app, probes)
  await answers(cached.app, probes)
  await cached.sql("UPDATE tags SET name = 'wyverns' WHERE name = 'dragons'")
  const done = Date.now()
  let passes = 0
  while (Date.now() - done < DEADLINE_MS) {
    await answers(cached.app, probes)
    passes++
  }
  const expected = await answers(oracle.app, probes)
  const got = await answers(cached.app, probes)
  const stale = probes.map(p => `${p.viewer?.username ?? 'anonymous'} GET ${p.url}`).filter(k => got.get(k) !== expected.get(k))
  t.same(stale, [], `every read fresh ${Date.now() - done} ms after the commit (${passes} passes of reads meanwhile)`)
  cacheOf(cached).cache.flushHot()
  const fromRedis = await answers(cached.app, probes)
  t.same(probes.map(p => `${p.viewer?.username ?? 'anonymous'} GET ${p.url}`).filter(k => fromRedis.get(k) !== expected.get(k)), [],
    'and from Redis')
})
