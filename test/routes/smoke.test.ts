import t from 'tap'
import { auth, build, createArticle, registerUser } from '../helper.js'

t.test('smoke', async t => {
  const app = await build(t)
  const jake = await registerUser(app, 'jake')
  const a = await createArticle(app, jake, { title: 'Hello wörld', tagList: ['b', 'a', 'a'] })
  t.match(a, { slug: /^hello-world-[0-9a-f]{8}$/, tagList: ['a', 'b'] })
  const list = await app.inject({ url: '/api/articles', headers: auth(jake) })
  t.equal(list.statusCode, 200)
  console.log(list.body)
  const r = await app.inject({ method: 'POST', url: `/api/articles/${a.slug}/favorite`, headers: { ...auth(jake), 'content-type': 'application/json' } })
  console.log(r.statusCode, r.body)
  const bad = await app.inject({ method: 'POST', url: '/api/users', payload: { user: { email: 'x' } } })
  console.log(bad.statusCode, bad.body)
  const nf = await app.inject({ url: '/api/nope' })
  console.log(nf.statusCode, nf.body)
  const docs = await app.inject({ url: '/docs/json' })
  console.log(docs.statusCode, docs.body.slice(0, 300))
})
