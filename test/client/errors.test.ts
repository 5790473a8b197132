import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { ConduitError, createClient, type Fetch } from '../../client/src/index.js'
import { serve } from './serve.js'

// The API's 4xx `{"errors":{...}}` as a typed ConduitError, the token the client sends, and an
// error page that is not the API's (HAProxy's, with no instance up) still as a ConduitError.

const haproxy = await promisify(execFile)('haproxy', ['-v']).then(() => true, () => false)

/** The ConduitError a call rejects with (anything else fails the test). */
async function failure (t: Test, call: Promise<unknown>): Promise<ConduitError> {
  const error = await call.then(() => undefined, (error: unknown) => error)
  if (!(error instanceof ConduitError)) throw new Error(`expected a ConduitError, got ${String(error)}`)
  t.equal(error.name, 'ConduitError')
  return error
}

t.test('422, 401, 403 and 404 are ConduitErrors with the status and the fields', async t => {
  const baseUrl = await serve(t)
  const jake = createClient({ baseUrl })
  const ana = createClient({ baseUrl })
  const anonymous = createClient({ baseUrl })
  await jake.createUser({ username: 'jake', email: 'jake@example.com', password: 'jakejakejake' })
  await ana.createUser({ username: 'ana', email: 'ana@example.com', password: 'anaanaana' })

  const taken = await failure(t, anonymous.createUser({ username: 'jake', email: 'other@example.com', password: 'password123' }))
  t.equal(taken.status, 422)
  t.same(taken.errors, { username: ['has already been taken'] })
  t.equal(taken.message, 'HTTP 422: username has already been taken')
  t.equal(anonymous.token, null, 'a failed register keeps no token')
  t.equal((await failure(t, jake.createArticle({ title: ' ', description: 'd', body: 'b' }))).status, 422, 'validation')

  const wrongPassword = await failure(t, anonymous.login({ email: 'jake@example.com', password: 'not-his-password' }))
  t.match(wrongPassword, { status: 401, errors: { 'email or password': ['is invalid'] } })
  t.match(await failure(t, anonymous.getCurrentUser()), { status: 401, errors: { token: ['is missing'] } })
  t.match(await failure(t, anonymous.getArticlesFeed()), { status: 401 })

  const article = await jake.createArticle({ title: 'Mine', description: 'd', body: 'b' })
  const comment = await jake.createArticleComment(article.slug, { body: 'first' })
  t.match(await failure(t, ana.updateArticle(article.slug, { title: 'Hers' })), { status: 403, errors: { article: ['can only be changed by its author'] } })
  t.match(await failure(t, ana.deleteArticle(article.slug)), { status: 403 })
  t.match(await failure(t, ana.deleteArticleComment(article.slug, comment.id)), { status: 403, errors: { comment: [String] } })

  t.match(await failure(t, ana.getArticle('no-such-article')), { status: 404, errors: { article: ['not found'] } })
  t.match(await failure(t, ana.getProfileByUsername('nobody')), { status: 404, errors: { profile: ['not found'] } })
  t.match(await failure(t, ana.deleteArticleComment(article.slug, 999999)), { status: 404, errors: { comment: ['not found'] } })
  t.match(await failure(t, ana.createArticleFavorite('no-such-article')), { status: 404 })
})

t.test('the token: sent as `Token <jwt>`, kept from login, replaced or dropped by setToken', async t => {
  const baseUrl = await serve(t)
  const sent: Array<string | undefined> = []
  // The caller's own fetch, around the real one: it sees what the client puts on the wire.
  const recording: Fetch = async (url, init) => {
    sent.push(init.headers.authorization)
    return await fetch(url, init)
  }
  const client = createClient({ baseUrl, fetch: recording })
  await client.getTags()
  const user = await client.createUser({ username: 'jake', email: 'jake@example.com', password: 'jakejakejake' })
  await client.getCurrentUser()
  t.same(sent, [undefined, undefined, `Token ${user.token}`], 'none until registered, then the new token')

  const elsewhere = createClient({ baseUrl, token: user.token })
  t.equal((await elsewhere.getCurrentUser()).username, 'jake', 'a token saved from an earlier session')
  const article = await elsewhere.createArticle({ title: 'Saved', description: 'd', body: 'b' })
  await elsewhere.createArticleFavorite(article.slug)
  t.equal((await elsewhere.getArticle(article.slug)).body.favorited, true, 'the viewer is the token\'s user')

  elsewhere.setToken(null)
  t.equal(elsewhere.token, null)
  t.equal((await elsewhere.getArticle(article.slug)).body.favorited, false, 'anonymous again')
  t.match(await failure(t, elsewhere.getCurrentUser()), { status: 401 })

  elsewhere.setToken('not-a-jwt')
  t.match(await failure(t, elsewhere.getArticles()), { status: 401, errors: { token: ['is invalid'] } },
    'a bad token is a 401 even where a token is optional')
  elsewhere.setToken(user.token)
  t.equal((await elsewhere.getCurrentUser()).email, 'jake@example.com')
})

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await new Promise(resolve => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

t.test('an error page from a proxy in front (no instance up) is a ConduitError too', { skip: haproxy ? false : 'haproxy not installed' }, async t => {
  const dir = await mkdtemp(join(tmpdir(), 'gravity-client-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const [port, down] = [await freePort(), await freePort()]
  await writeFile(join(dir, 'haproxy.cfg'), [
    'defaults', '  mode http', '  retries 0', '  timeout connect 1s', '  timeout client 5s', '  timeout server 5s',
    'frontend api', `  bind 127.0.0.1:${port}`, '  default_backend gravity',
    'backend gravity', `  server gone 127.0.0.1:${down}`, ''
  ].join('\n'))
  const proxy = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' })
  t.teardown(() => { proxy.kill() })
  const client = createClient({ baseUrl: `http://127.0.0.1:${port}/api` })
  for (let tries = 0; ; tries++) {
    const answer = await client.getTags().then(() => undefined, (error: unknown) => error)
    if (answer instanceof ConduitError) {
      t.equal(answer.status, 503)
      t.match(answer.errors, { response: [/<html>.*503 Service Unavailable/s] }, "the proxy's page as the one message")
      break
    }
    if (tries > 100) throw answer
    await sleep(100) // HAProxy is not listening yet
  }
})
