import Fastify from 'fastify'
import t from 'tap'
import { Type } from 'typebox'
import { buildValidator } from '../src/validator-compiler.js'
import { auth, build, createArticle, registerUser } from './helper.js'
import { assertError } from './users-helper.js'

// Numbers that are not finite, as a client can write them in a query, a path or a JSON body.
const NOT_FINITE = ['1e999', 'Infinity', '-Infinity', '-1e999', 'NaN', '1e400']

for (const CACHE of ['on', 'off']) {
  t.test(`every numeric input is a finite integer in range, or a 422 (CACHE=${CACHE})`, async t => {
    const app = await build(t, { CACHE })
    const user = await registerUser(app)
    const article = await createArticle(app, user)

    for (const value of NOT_FINITE) {
      for (const name of ['limit', 'offset']) {
        assertError(t, await app.inject({ url: `/api/articles?${name}=${value}` }), 422, name)
        assertError(t, await app.inject({ url: `/api/articles/feed?${name}=${value}`, headers: auth(user) }), 422, name)
        assertError(t, await app.inject({ url: `/api/articles?tag=x&${name}=${value}` }), 422, name)
      }
      assertError(t, await app.inject({ method: 'DELETE', url: `/api/articles/${article.slug}/comments/${value}`, headers: auth(user) }), 422, 'id')
    }
    const fine = await app.inject({ url: '/api/articles?limit=100&offset=0' })
    t.equal(fine.statusCode, 200)
    t.equal(fine.json().articlesCount, 1)
  })
}

t.test('a non-finite number in a JSON body fails validation, wherever it is', async t => {
  const app = Fastify({ schemaController: { compilersFactory: { buildValidator } } })
  app.post('/', {
    schema: {
      body: Type.Object({
        n: Type.Optional(Type.Integer({ maximum: 10 })),
        nested: Type.Optional(Type.Object({ list: Type.Array(Type.Number()) })),
        free: Type.Optional(Type.Unknown())
      })
    }
  }, async request => request.body)
  t.teardown(() => app.close())
  const post = (payload: string) => app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/json' }, payload })
  for (const payload of ['{"n":1e999}', '{"n":-1e999}', '{"nested":{"list":[1,2,1e999]}}', '{"free":{"deep":[1e400]}}']) {
    const res = await post(payload)
    t.equal(res.statusCode, 400, payload)
    t.match(res.json().message, /must be (a finite number|integer|number)/, payload)
  }
  t.equal((await post('{"n":3,"nested":{"list":[1.5,-2]},"free":{"x":[1]}}')).statusCode, 200, 'finite numbers pass')
})
