import { stat } from 'node:fs/promises'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startService } from './service-process.js'
import { freePort } from './cache/cache-helper.js'

// A newcomer's first minute with the built service and no configuration at all (embedded
// PostgreSQL with its demo data): where to go, how to sign in, not reachable from the network,
// and a saved token that still works after a restart.

t.setTimeout(300_000)

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gravity-first-minute-'))
await fs.chmod(dir, 0o755) // the embedded PostgreSQL runs as the postgres user (we are root)
t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
const env = async () => ({ NODE_ENV: '', HOST: '', JWT_SECRET: '', PG_EMBEDDED_PORT: String(await freePort()) })

/** A non-loopback IPv4 address of this machine, if it has one. */
const outside = Object.values(os.networkInterfaces()).flat().find(a => a?.family === 'IPv4' && !a.internal)?.address

let token = ''
t.test('first start: the startup line says where to go and how to sign in; loopback only', async t => {
  const service = await startService(t, await env(), [], dir)
  const startup = service.lines.find(line => typeof line.api === 'string') as Record<string, unknown>
  t.match(startup, { demoLogin: { email: 'demo@conduit.local', password: 'password' }, config: { HOST: '127.0.0.1' } })
  t.match(startup.msg, /demo login: demo@conduit\.local \/ password/)
  t.match(service.url, /^http:\/\/127\.0\.0\.1:\d+$/)

  const index = await fetch(`${service.url}/`)
  t.equal(index.status, 200)
  t.same(await index.json(), { name: 'gravity-bff', api: '/api', docs: '/docs', openapi: '/docs/json', health: '/health/ready' }, 'GET / points to the API and its docs')

  const port = Number(new URL(service.url).port)
  t.test('not listening on other interfaces', { skip: outside === undefined ? 'no non-loopback IPv4 address here' : false }, async t => {
    const refused = await new Promise<boolean>(resolve => {
      const socket = net.connect(port, outside as string)
      socket.once('connect', () => { socket.destroy(); resolve(false) })
      socket.once('error', () => resolve(true))
    })
    t.ok(refused, `${outside as string}:${port} refuses connections`)
  })

  const login = await fetch(`${service.url}/api/users/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: { email: 'demo@conduit.local', password: 'password' } })
  })
  t.equal(login.status, 200, 'the printed login works')
  token = (await login.json() as { user: { token: string } }).user.token
  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0)
  t.equal((await stat(path.join(dir, '.data', 'jwt-secret'))).mode & 0o777, 0o600, 'the generated secret is kept, readable by its owner only')
})

t.test('second start: the token saved before the restart still works', async t => {
  const service = await startService(t, await env(), [], dir)
  const me = await fetch(`${service.url}/api/user`, { headers: { authorization: `Token ${token}` } })
  t.equal(me.status, 200)
  t.match(await me.json(), { user: { email: 'demo@conduit.local' } })
  t.notOk(service.lines.some(line => /random secret/.test(String(line.msg))), 'no warning about a per-process secret')
  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0)
})
