import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createTestDatabase } from './helper.js'
import { startService } from './service-process.js'

// The process around the app (src/server.ts), run as the Dockerfile runs it.

t.test('one startup line: version, effective configuration with secrets redacted, URLs', async t => {
  const databaseUrl = new URL(await createTestDatabase(t))
  databaseUrl.password = 'hunter2-db-password'
  const service = await startService(t, { DATABASE_URL: databaseUrl.toString(), CACHE: 'off', JWT_SECRET: 'a-very-secret-jwt-key-that-must-not-be-logged' })
  const started = service.lines.filter(line => typeof line.api === 'string')
  t.equal(started.length, 1, 'one line')
  const [line] = started as Array<{ version: string, config: Record<string, unknown>, api: string, docs: string }>
  t.match(line?.version, /^\d+\.\d+\.\d+/)
  t.equal(line?.config.JWT_SECRET, '[redacted]')
  t.match(line?.config.DATABASE_URL, /^postgres:\/\/postgres:redacted@127\.0\.0\.1:5432\//)
  t.equal(line?.config.CACHE, 'off')
  t.match(line?.docs, /\/docs$/)
  const all = JSON.stringify(service.lines)
  t.notMatch(all, /a-very-secret-jwt-key|hunter2-db-password/, 'no secret in any line')
  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0)
})

t.test('SIGTERM: readiness fails first while requests are still served, then a clean exit 0', async t => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t), CACHE: 'off', SHUTDOWN_DELAY_MS: '1500' })
  t.equal((await fetch(`${service.url}/api/tags`)).status, 200)
  service.child.kill('SIGTERM')
  await sleep(300)
  const ready = await fetch(`${service.url}/health/ready`)
  t.equal(ready.status, 503, 'readiness fails at once')
  t.match(await ready.json(), { status: 'draining' })
  const during = await fetch(`${service.url}/api/tags`)
  t.equal(during.status, 200, 'still serving during the delay')
  t.equal(await service.exited, 0)
  t.ok(service.lines.some(line => line.msg === 'shutting down: readiness now fails' && line.signal === 'SIGTERM'))
  t.ok(service.lines.some(line => line.msg === 'stopped'))
})

for (const [kind, code] of [
  // Preloaded into the service's own process: a fault there, once the test creates the trigger file.
  ['an uncaught exception', 'throw new Error("boom from a timer")'],
  ['an unhandled rejection', 'Promise.reject(new Error("boom from a promise"))']
]) {
  t.test(`${kind} is logged and the process exits non-zero`, async t => {
    const trigger = join(t.testdirName, 'fault')
    await rm(trigger, { force: true })
    const preload = `import { existsSync } from "node:fs"; const timer = setInterval(() => { if (existsSync(${JSON.stringify(trigger)})) { clearInterval(timer); ${code} } }, 20); timer.unref()`
    const service = await startService(t, { DATABASE_URL: await createTestDatabase(t), CACHE: 'off' },
      ['--import', `data:text/javascript,${encodeURIComponent(preload)}`])
    t.equal((await fetch(`${service.url}/api/tags`)).status, 200)
    await mkdir(t.testdirName, { recursive: true })
    await writeFile(trigger, '')
    const exit = await service.exited
    t.not(exit, 0, `exit ${exit}`)
    const fatal = service.lines.find(line => line.msg === 'uncaught error: shutting down')
    t.ok(fatal, 'logged')
    t.match((fatal?.err as { message?: string } | undefined)?.message, /boom from a/)
  })
}
