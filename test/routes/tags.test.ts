import t from 'tap'
import { auth, build, createArticle, registerUser } from '../helper.js'

async function tags (app: Awaited<ReturnType<typeof build>>): Promise<string[]> {
  const res = await app.inject({ url: '/api/tags' })
  if (res.statusCode !== 200) throw new Error(`GET /api/tags: ${res.statusCode} ${res.body}`)
  const body = res.json() as { tags: string[] }
  return body.tags
}

t.test('GET /api/tags', async t => {
  const app = await build(t)
  const jake = await registerUser(app, 'jake')

  t.test('empty database: no tags', async t => {
    const res = await app.inject({ url: '/api/tags' })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { tags: [] })
  })

  t.test('the tags of the articles, once each', async t => {
    await createArticle(app, jake, { title: 'one', tagList: ['dragons', 'training'] })
    await createArticle(app, jake, { title: 'two', tagList: ['dragons', 'angularjs', 'dragons'] })
    await createArticle(app, jake, { title: 'no tags', tagList: [] })
    const list = await tags(app)
    t.same(list.slice().sort(), ['angularjs', 'dragons', 'training'])
    t.equal(new Set(list).size, list.length, 'no duplicates')
    t.equal(list[0], 'dragons', 'the most used first')
  })

  t.test('anonymous, and with a token alike', async t => {
    const res = await app.inject({ url: '/api/tags', headers: auth(jake) })
    t.equal(res.statusCode, 200)
    t.same(res.json().tags.slice().sort(), ['angularjs', 'dragons', 'training'])
  })

  t.test('tags of a deleted article disappear when unused', async t => {
    const doomed = await createArticle(app, jake, { title: 'doomed', tagList: ['ephemeral', 'training'] })
    t.ok((await tags(app)).includes('ephemeral'))
    const res = await app.inject({ method: 'DELETE', url: `/api/articles/${doomed.slug}`, headers: auth(jake) })
    t.equal(res.statusCode, 204)
    const list = await tags(app)
    t.notOk(list.includes('ephemeral'), 'unused tag gone')
    t.ok(list.includes('training'), 'tag still used by another article kept')
  })

  t.test('tags removed by an update disappear when unused', async t => {
    const edited = await createArticle(app, jake, { title: 'edited', tagList: ['draft', 'dragons'] })
    t.ok((await tags(app)).includes('draft'))
    const res = await app.inject({
      method: 'PUT', url: `/api/articles/${edited.slug}`, headers: auth(jake), payload: { article: { tagList: ['final'] } }
    })
    t.equal(res.statusCode, 200)
    const list = await tags(app)
    t.notOk(list.includes('draft'), 'removed tag gone')
    t.ok(list.includes('final'), 'new tag listed')
    t.ok(list.includes('dragons'), 'tag still used elsewhere kept')
  })

  t.test('tags are kept as written (case and unicode)', async t => {
    await createArticle(app, jake, { title: 'unicode', tagList: ['日本語', 'Café'] })
    const list = await tags(app)
    t.ok(list.includes('日本語'))
    t.ok(list.includes('Café'))
    const res = await app.inject({ url: '/api/articles', query: { tag: '日本語' } })
    t.equal(res.json().articlesCount, 1, 'a unicode tag filters the list')
  })
})
