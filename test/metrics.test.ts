import { execFile } from 'node:child_process'
import { createServer } from 'node:net'
import { promisify } from 'node:util'
import t from 'tap'
import { build, createArticle, registerUser } from './helper.js'

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await new Promise(resolve => server.once('listening', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

const promtool = await promisify(execFile)('promtool', ['--version']).then(() => true, () => false)

t.test('Prometheus metrics on their own listener', async t => {
  const port = await freePort()
  const app = await build(t, { METRICS_PORT: String(port) })
  const user = await registerUser(app)
  const article = await createArticle(app, user)
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: `/api/articles/${article.slug}` })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/articles/no-such-article' })).statusCode, 404)
  t.equal((await app.inject({ url: '/nowhere/at/all' })).statusCode, 404)

  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain/)
  const text = await res.text()
  t.match(text, /http_request_duration_seconds_count\{method="GET",route="\/api\/articles\/:slug",status_class="2xx"\} [3-9]/, 'by route pattern and status class')
  t.match(text, /http_request_duration_seconds_count\{method="GET",route="\/api\/articles\/:slug",status_class="4xx"\} 1/)
  t.match(text, /http_request_duration_seconds_count\{method="GET",route="unmatched",status_class="4xx"\} 1/)
  t.notMatch(text, new RegExp(article.slug), 'never the raw URL')
  t.notMatch(text, /no-such-article|nowhere/)
  t.match(text, /gravity_cache_hits_total\{cache="article",tier="hot"\} [1-9]/)
  t.match(text, /gravity_cache_misses_total\{cache="slug"\} [1-9]/)
  t.match(text, /gravity_cache_invalidations_total\{cache="\w+"\} [1-9]/)
  t.match(text, /gravity_pg_pool_connections\{state="total"\} [1-9]/)
  t.match(text, /gravity_pg_pool_waiting 0/)
  t.match(text, /gravity_pg_up 1/)
  t.match(text, /gravity_change_listener_up 1/)
  t.match(text, /gravity_peers 0/)
  // createArticle (a write) waited for its barrier, and its change notification was applied.
  t.match(text, /gravity_peer_barrier_wait_seconds_count [1-9]/, 'barrier waits timed')
  t.match(text, /gravity_peer_barrier_wait_seconds_bucket\{le="\+Inf"\} [1-9]/)
  t.match(text, /gravity_cache_invalidation_lag_seconds_count [1-9]/, 'invalidation lag timed')
  t.match(text, /gravity_cache_invalidation_lag_seconds_bucket\{le="5"\} [1-9]/, 'within seconds')
  t.match(text, /nodejs_eventloop_lag_seconds /)
  t.match(text, /process_resident_memory_bytes /)

  t.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404)
  const onPublic = await app.inject({ url: '/metrics' })
  t.equal(onPublic.statusCode, 404, 'not on the public port')

  t.test('promtool check metrics accepts the exposition', { skip: promtool ? false : 'promtool not installed (Debian package prometheus; .ci/run installs it)' }, async t => {
    const check = promisify(execFile)('promtool', ['check', 'metrics'])
    check.child.stdin?.end(text)
    const { stdout, stderr } = await check.catch((err: { stdout: string, stderr: string }) => err)
    // prom-client's own default gauges are named *_total, which the linter flags; ours must be clean.
    const problems = `${stdout}${stderr}`.split('\n').filter(line => line.trim() !== '' &&
      !/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(line))
    t.same(problems, [], 'no problems reported but prom-client\'s own *_total gauges')
  })
})

t.test('METRICS_PORT=0: no listener, and the histogram still costs no error', async t => {
  const app = await build(t, { METRICS_PORT: '0', CACHE: 'off' })
  t.equal((await app.inject({ url: '/api/tags' })).statusCode, 200)
})
