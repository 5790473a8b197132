// Conditional GETs and cache headers: a strong ETag per route and per viewer, 304 for a current
// tag, a fresh 200 for an old one after every kind of write (API or plain SQL, on this instance or
// another, cache on or off), the right Cache-Control and Vary, and none of it on writes.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { auth, type TestUser } from '../helper.js'
import { buildInstance, redisPrefix, seed, SHARED_REDIS_URL, write, type Instance } from '../cache/cache-helper.js'

async function fetchWith (app: FastifyInstance, url: string, viewer?: TestUser, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url, headers: { ...(viewer === undefined ? {} : auth(viewer)), ...headers } })
}

/** The ETag of a 200 (checked strong), then its revalidation: 304, empty, the same tag. */
async function checkTag (t: Test, app: FastifyInstance, url: string, viewer?: TestUser): Promise<string> {
  const first = await fetchWith(app, url, viewer)
  t.equal(first.statusCode, 200, `GET ${url}`)
  const etag = first.headers.etag as string
  t.match(etag, /^"[\w-]{22}"$/, `${url}: a strong tag`)
  t.equal(first.headers['cache-control'], viewer === undefined ? 'public, max-age=5, stale-while-revalidate=15' : 'private, no-cache')
  t.match(first.headers.vary, /authorization/i)
  t.match(first.headers.vary, /accept-encoding/i)
  const again = await fetchWith(app, url, viewer, { 'if-none-match': etag })
  t.equal(again.statusCode, 304, `${url}: revalidated`)
  t.equal(again.body, '', 'no body')
  t.equal(again.headers.etag, etag)
  t.equal(again.headers['cache-control'], first.headers['cache-control'])
  return etag
}

async function setup (t: Test, env: Record<string, string> = {}): Promise<{ a: Instance, b: Instance, jake: TestUser, jane: TestUser, slug: string }> {
  // Both instances on one Redis prefix, as a deployment's instances are.
  const shared = { REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: redisPrefix(t).base }
  const a = await buildInstance(t, { ...shared, ...env })
  const b = await buildInstance(t, { ...shared, ...env }, { databaseUrl: a.databaseUrl })
  const { users: [jake, jane], slugs: [slug] } = await seed(a.app)
  return { a, b, jake: jake as TestUser, jane: jane as TestUser, slug: slug as string }
}

t.test('every cacheable read has a tag of its own, per viewer', async t => {
  const { a, jake, jane, slug } = await setup(t)
  const urls = ['/api/articles', `/api/articles/${slug}`, `/api/articles/${slug}/comments`, '/api/tags',
    `/api/profiles/${jake.username}`, `/api/articles?author=${jake.username}`, '/api/articles?limit=2&offset=1']
  for (const url of urls) {
    await checkTag(t, a.app, url)
    await checkTag(t, a.app, url, jake)
  }
  await checkTag(t, a.app, '/api/articles/feed', jane)
  const user = await fetchWith(a.app, '/api/user', jane)
  t.equal(user.headers['cache-control'], 'no-store', 'an answer carrying a token stays no-store')
  t.equal(user.headers.etag, undefined, 'and untagged')
  // jane favorited the first article, jake did not: one article, two representations.
  const forJake = await checkTag(t, a.app, `/api/articles/${slug}`, jake)
  const forJane = await checkTag(t, a.app, `/api/articles/${slug}`, jane)
  t.not(forJake, forJane, "the viewer's flags are in the tag")
  const stolen = await fetchWith(a.app, `/api/articles/${slug}`, jake, { 'if-none-match': forJane })
  t.equal(stolen.statusCode, 200, "another viewer's tag does not revalidate")
})

t.test('If-None-Match: lists, weak comparison, *, and tags that do not match', async t => {
  const { a, slug } = await setup(t)
  const url = `/api/articles/${slug}`
  const etag = (await fetchWith(a.app, url)).headers.etag as string
  for (const header of [`"nope", ${etag}`, `W/${etag}`, '*']) {
    t.equal((await fetchWith(a.app, url, undefined, { 'if-none-match': header })).statusCode, 304, header)
  }
  for (const header of ['"nope"', etag.slice(0, -2) + '"', '', 'garbage']) {
    t.equal((await fetchWith(a.app, url, undefined, { 'if-none-match': header })).statusCode, 200, `If-None-Match: ${header}`)
  }
  const missing = await fetchWith(a.app, '/api/articles/no-such-article', undefined, { 'if-none-match': '*' })
  t.equal(missing.statusCode, 404, 'a missing article is still a 404')
  t.equal(missing.headers.etag, undefined, 'errors have no tag')
  const head = await a.app.inject({ method: 'HEAD', url })
  t.equal(head.headers.etag, etag, 'HEAD has the same tag')
})

t.test('writes carry no cache headers', async t => {
  const { a, jake, slug } = await setup(t)
  const writes = [
    await write(a.app, 'PUT', `/api/articles/${slug}`, jake, { article: { body: 'changed' } }),
    await write(a.app, 'POST', `/api/articles/${slug}/comments`, jake, { comment: { body: 'hi' } }),
    await write(a.app, 'POST', `/api/articles/${slug}/favorite`, jake)
  ]
  for (const res of writes) {
    t.equal(res.headers.etag, undefined)
    t.equal(res.headers['cache-control'], undefined)
  }
})

for (const cacheMode of ['on', 'off']) {
  t.test(`an old tag gets a fresh 200 after every kind of write (CACHE=${cacheMode})`, async t => {
    const { a, b, jake, jane, slug } = await setup(t, { CACHE: cacheMode })
    // What PostgreSQL holds now, as an instance without a cache answers it.
    const oracle = await buildInstance(t, { CACHE: 'off' }, { databaseUrl: a.databaseUrl })
    const url = `/api/articles/${slug}`
    const comment = async () => (await write(b.app, 'POST', `${url}/comments`, jane, { comment: { body: 'new' } })).json().comment.id as number
    const changes: Array<[string, () => Promise<unknown>]> = [
      ['API write on this instance', () => write(a.app, 'PUT', url, jake, { article: { body: 'from a' } })],
      ['API write on another instance', () => write(b.app, 'PUT', url, jake, { article: { body: 'from b' } })],
      ["another viewer's favorite (counts)", () => write(b.app, 'POST', `${url}/favorite`, jake)],
      ['a comment (the comments list)', comment],
      ['a comment deleted', async () => write(b.app, 'DELETE', `${url}/comments/${await comment()}`, jane)],
      ['an unfollow (following flags, feed)', () => write(b.app, 'DELETE', `/api/profiles/${jake.username}/follow`, jane)],
      ['a new article (lists, tags)', () => write(b.app, 'POST', '/api/articles', jake, { article: { title: 'Brand new', description: 'd', body: 'b', tagList: ['fresh'] } })],
      ['plain SQL', () => a.sql("UPDATE articles SET body = 'from sql' WHERE slug = $1", [slug])],
      ['plain SQL on the author', () => a.sql("UPDATE users SET bio = 'new bio' WHERE username = $1", [jake.username])],
      ['plain SQL on tags', () => a.sql("UPDATE tags SET name = 'renamed' WHERE name = 'dragons'")],
      ['the article deleted', () => write(b.app, 'DELETE', url, jake)]
    ]
    const reads = [url, '/api/articles', `${url}/comments`, `/api/profiles/${jake.username}`, '/api/tags']
    const probes = [...reads.map(u => [undefined, u] as const), ...[...reads, '/api/articles/feed'].map(u => [jane, u] as const)]
    let checked = 0
    for (const [what, change] of changes) {
      const before = await Promise.all(probes.map(async ([viewer, u]) => ({ viewer, u, etag: (await fetchWith(a.app, u, viewer)).headers.etag as string })))
      await change()
      for (const { viewer, u, etag } of before) {
        const fresh = await fetchWith(oracle.app, u, viewer)
        if (fresh.headers.etag === etag) continue // this change does not touch this read
        // Plain SQL reaches the cache through a change notification: within a second.
        let res = await fetchWith(a.app, u, viewer, { 'if-none-match': etag })
        for (let i = 0; i < 50 && res.statusCode === 304; i++) {
          await new Promise(resolve => setTimeout(resolve, 20))
          res = await fetchWith(a.app, u, viewer, { 'if-none-match': etag })
        }
        const who = viewer === undefined ? 'anonymous' : 'signed in'
        t.equal(res.statusCode, fresh.statusCode, `${what}: ${who} ${u} with the old tag: ${fresh.statusCode}, never a stale 304`)
        t.equal(res.body, fresh.body, 'the current body')
        checked++
      }
    }
    t.ok(checked >= 30, `${checked} reads changed by the writes were checked`)
  })
}

t.test('the public lifetime is configurable; 0 revalidates every time', async t => {
  const { a } = await setup(t, { PUBLIC_MAX_AGE_SECONDS: '0' })
  t.equal((await fetchWith(a.app, '/api/tags')).headers['cache-control'], 'public, no-cache')
  const { a: longer } = await setup(t, { PUBLIC_MAX_AGE_SECONDS: '60', PUBLIC_STALE_WHILE_REVALIDATE_SECONDS: '0' })
  t.equal((await fetchWith(longer.app, '/api/tags')).headers['cache-control'], 'public, max-age=60')
})

t.test('the API document declares 304 on the reads, not on writes', async t => {
  const { a } = await setup(t)
  const doc = (await a.app.inject('/docs/json')).json() as { paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>> }
  const article = doc.paths['/api/articles/{slug}']
  t.ok(article?.get?.responses['304'], 'GET article: 304')
  t.equal(article?.get?.responses['304']?.content, undefined, 'with no body')
  t.notOk(article?.put?.responses['304'], 'PUT article: none')
  t.ok(doc.paths['/api/articles']?.get?.responses['304'], 'GET articles: 304')
})
