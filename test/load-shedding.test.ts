import t from 'tap'
import { build } from './helper.js'
import { assertError } from './users-helper.js'

t.test('over the heap threshold: 503 with Retry-After in the Conduit shape; probes still answer', async t => {
  // Any heap is over one byte: the instance is under pressure from its first sample.
  const app = await build(t, { CACHE: 'off', SHED_HEAP_USED_BYTES: '1' })
  // The heap is sampled once a second.
  let res = await app.inject({ url: '/api/tags' })
  for (let i = 0; i < 50 && res.statusCode === 200; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    res = await app.inject({ url: '/api/tags' })
  }
  assertError(t, res, 503, 'server', 'is overloaded, try again shortly')
  t.equal(res.headers['retry-after'], '2')
  for (const url of ['/health/live', '/health', '/health/ready']) {
    t.equal((await app.inject({ url })).statusCode, 200, `${url} is exempt`)
  }
})

t.test('the default thresholds leave a normal process alone', async t => {
  // testConfig turns shedding off; '' is unset: the defaults.
  const app = await build(t, { CACHE: 'off', SHED_EVENT_LOOP_DELAY_MS: '', SHED_HEAP_USED_BYTES: '' })
  await new Promise(resolve => setTimeout(resolve, 1500))
  t.equal((await app.inject({ url: '/api/tags' })).statusCode, 200)
})
