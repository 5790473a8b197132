// Compression as negotiated (br, gzip), only above COMPRESS_MIN_BYTES; each coding its own tag;
// a kept anonymous response served compressed from its kept form.
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { SYNC_COMPRESS_MAX_BYTES } from '../../src/plugins/compression.js'
import type { TestUser } from '../helper.js'
import { buildInstance, cacheOf, redisPrefix, seed, SHARED_REDIS_URL, write } from '../cache/cache-helper.js'

const auth = (user: TestUser) => ({ authorization: `Token ${user.token}` })

async function fetchWith (app: FastifyInstance, url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url, headers })
}

function decoded (res: LightMyRequestResponse): string {
  const coding = res.headers['content-encoding']
  if (coding === 'br') return brotliDecompressSync(res.rawPayload).toString()
  if (coding === 'gzip') return gunzipSync(res.rawPayload).toString()
  return res.body
}

async function setup (t: Test, env: Record<string, string> = {}, articles = 6) {
  const instance = await buildInstance(t, { REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: redisPrefix(t).base, ...env })
  const { users: [jake], slugs } = await seed(instance.app)
  for (let i = slugs.length; i < articles; i++) {
    await write(instance.app, 'POST', '/api/articles', jake as TestUser, {
      article: { title: `Padding ${i}`, description: 'A description long enough to make the list page grow by a few hundred bytes. '.repeat(3), body: 'b', tagList: ['pad'] }
    })
  }
  return { instance, jake: jake as TestUser }
}

t.test('br and gzip as negotiated, each with a tag of its own', async t => {
  const { instance, jake } = await setup(t)
  const url = '/api/articles'
  const plain = await fetchWith(instance.app, url)
  t.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding: as it is')
  t.ok(plain.body.length > 1024, `the page is above the threshold (${plain.body.length} bytes)`)
  for (const [accept, coding] of [['br', 'br'], ['gzip, deflate', 'gzip'], ['gzip;q=0.5, br;q=0.9', 'br'], ['br;q=0, gzip', 'gzip'], ['identity', undefined]] as const) {
    for (const viewer of [undefined, jake]) {
      const headers = { 'accept-encoding': accept, ...(viewer === undefined ? {} : auth(viewer)) }
      const first = await fetchWith(instance.app, url, headers)
      // Twice: the second anonymous one is a hit on the kept response and its kept coded form.
      const second = await fetchWith(instance.app, url, headers)
      for (const res of [first, second]) {
        t.equal(res.headers['content-encoding'], coding, `Accept-Encoding: ${accept}`)
        const identity = viewer === undefined ? plain : await fetchWith(instance.app, url, auth(jake))
        t.equal(decoded(res), identity.body, 'the same document')
        t.equal(res.headers.etag, coding === undefined ? identity.headers.etag : `${(identity.headers.etag as string).slice(0, -1)}-${coding}"`)
        t.match(res.headers.vary, /accept-encoding/i)
      }
      t.same(second.rawPayload, first.rawPayload, 'the same bytes')
      const revalidated = await fetchWith(instance.app, url, { ...headers, 'if-none-match': first.headers.etag as string })
      t.equal(revalidated.statusCode, 304, 'its own tag revalidates')
      t.equal(revalidated.headers['content-encoding'], undefined, 'a 304 has no coding')
      t.equal(revalidated.headers.etag, first.headers.etag)
    }
  }
  t.ok(cacheOf(instance).metrics, 'the cache is on')
})

t.test('bodies below the threshold are not compressed', async t => {
  const { instance } = await setup(t)
  const tags = await fetchWith(instance.app, '/api/tags', { 'accept-encoding': 'br, gzip' })
  t.ok(tags.body.length < 1024, `a small body (${tags.body.length} bytes)`)
  t.equal(tags.headers['content-encoding'], undefined)
  const missing = await fetchWith(instance.app, '/api/articles/nope', { 'accept-encoding': 'br' })
  t.equal(missing.headers['content-encoding'], undefined, 'nor a small error')
})

t.test('a large page is streamed through the compressor and still tagged by its coding', async t => {
  const { instance } = await setup(t, { COMPRESS_MIN_BYTES: '1024' }, 26)
  const plain = await fetchWith(instance.app, '/api/articles?limit=26')
  t.ok(plain.body.length > SYNC_COMPRESS_MAX_BYTES, `above the synchronous limit (${plain.body.length} bytes)`)
  for (const coding of ['br', 'gzip']) {
    const res = await fetchWith(instance.app, '/api/articles?limit=26', { 'accept-encoding': coding })
    t.equal(res.headers['content-encoding'], coding)
    t.equal(decoded(res), plain.body)
    t.equal(res.headers.etag, `${(plain.headers.etag as string).slice(0, -1)}-${coding}"`)
  }
})

t.test('COMPRESS_MIN_BYTES=0 turns compression off', async t => {
  const { instance } = await setup(t, { COMPRESS_MIN_BYTES: '0' })
  const res = await fetchWith(instance.app, '/api/articles', { 'accept-encoding': 'br, gzip' })
  t.equal(res.headers['content-encoding'], undefined)
  t.equal((await fetchWith(instance.app, '/api/articles', { 'accept-encoding': 'br, gzip' })).headers['content-encoding'], undefined, 'a hit neither')
})
