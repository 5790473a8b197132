import t from 'tap'
import { build } from '../helper.js'

// GET /: a newcomer opening the service's address is told where the API and its docs are.

t.test('GET / points to the API, the docs and the readiness probe', async t => {
  const app = await build(t)
  const res = await app.inject({ url: '/' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { name: 'gravity-bff', api: '/api', docs: '/docs', openapi: '/docs/json', health: '/health/ready' })
  for (const link of ['/docs/json', '/health/ready']) t.equal((await app.inject({ url: link })).statusCode, 200, `${link} answers`)
  t.ok([200, 302].includes((await app.inject({ url: '/docs' })).statusCode), '/docs answers')
})

t.test('DOCS=off: no docs link (they are not served)', async t => {
  const app = await build(t, { DOCS: 'off' })
  t.same((await app.inject({ url: '/' })).json(), { name: 'gravity-bff', api: '/api', health: '/health/ready' })
})
