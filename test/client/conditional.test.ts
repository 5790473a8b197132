import t, { type Test } from 'tap'
import {
  createClient, type Article, type Comment, type Fetch, type Fetched, type MultipleArticles, type Profile
} from '../../client/src/index.js'
import { serve } from './serve.js'

// Conditional GETs through the client: given the caller's cached copy `{ etag, body }` it sends
// If-None-Match, and a 304 resolves to that very copy; a 200 to the new body and its ETag.

/** A read, then the same read given its result: a 304 answered with the very copy passed in. */
async function revalidates<T> (t: Test, name: string, read: (cached?: Fetched<T>) => Promise<Fetched<T>>) {
  const first = await read()
  t.type(first.etag, 'string', `${name}: an ETag`)
  const again = await read(first)
  t.equal(again.notModified, true, `${name}: 304`)
  t.equal(again.body, first.body, `${name}: the caller's copy`)
  t.equal(again.etag, first.etag)
}

t.test('a cached copy: If-None-Match with its tag; a tag the server does not match gets the new body', async t => {
  const baseUrl = await serve(t)
  const sent: Array<string | undefined> = []
  const recording: Fetch = async (url, init) => {
    sent.push(init.headers['if-none-match'])
    return await fetch(url, init)
  }
  const client = createClient({ baseUrl, fetch: recording })
  await client.createUser({ username: 'jake', email: 'jake@example.com', password: 'jakejakejake' })
  await client.createArticle({ title: 'Cached', description: 'd', body: 'b', tagList: ['one'] })

  const stale: Fetched<string[]> = { body: ['old'], etag: '"no-such-tag"', notModified: false }
  const tags = await client.getTags(stale)
  t.same(tags.body, ['one'], 'the new body')
  t.equal(tags.notModified, false)
  t.same(sent.slice(-1), ['"no-such-tag"'], 'sent the cached tag as it was given')

  const untagged = await client.getArticles({}, { body: { articles: [], articlesCount: 0 } })
  t.equal(untagged.body.articlesCount, 1, 'a cached copy without a tag: a plain GET')
  t.same(sent.slice(-1), [undefined], 'no If-None-Match')
})

t.test('304: the caller\'s cached copy, on every cacheable read; a fresh 200 after a write', async t => {
  const baseUrl = await serve(t)
  const jake = createClient({ baseUrl })
  const ana = createClient({ baseUrl })
  await jake.createUser({ username: 'jake', email: 'jake@example.com', password: 'jakejakejake' })
  await ana.createUser({ username: 'ana', email: 'ana@example.com', password: 'anaanaana' })
  await ana.followUserByUsername('jake')
  const { slug } = await jake.createArticle({ title: 'Cached', description: 'd', body: 'b', tagList: ['one'] })
  await jake.createArticleComment(slug, { body: 'a comment' })

  await revalidates<Article>(t, 'article', cached => ana.getArticle(slug, cached))
  await revalidates<MultipleArticles>(t, 'articles', cached => ana.getArticles({ author: 'jake' }, cached))
  await revalidates<MultipleArticles>(t, 'feed', cached => ana.getArticlesFeed({}, cached))
  await revalidates<Profile>(t, 'profile', cached => ana.getProfileByUsername('jake', cached))
  await revalidates<Comment[]>(t, 'comments', cached => ana.getArticleComments(slug, cached))
  await revalidates<string[]>(t, 'tags', cached => ana.getTags(cached))
  await revalidates<Article>(t, 'anonymous article', cached => createClient({ baseUrl }).getArticle(slug, cached))

  const before: Fetched<MultipleArticles> = await ana.getArticles({ author: 'jake' })
  await ana.createArticleFavorite(slug)
  const after = await ana.getArticles({ author: 'jake' }, before)
  t.equal(after.notModified, false, 'a write: 200, not a stale 304')
  t.equal(after.body.articles[0]?.favorited, true)
  t.not(after.etag, before.etag)
})

t.test('from a frontend on another origin: the preflight allows If-None-Match and ETag is readable', async t => {
  const baseUrl = await serve(t)
  const origin = 'http://localhost:4200'
  const preflight = await fetch(`${baseUrl}/articles`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization,if-none-match' }
  })
  t.equal(preflight.status, 204)
  const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/)
  t.ok(allowed.includes('if-none-match'), `allows if-none-match: ${allowed.join(', ')}`)
  const get = await fetch(`${baseUrl}/tags`, { headers: { origin } })
  const exposed = (get.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/\s*,\s*/)
  t.ok(exposed.includes('etag'), `exposes etag: ${exposed.join(', ')}`)
})
