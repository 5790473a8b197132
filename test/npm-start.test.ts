import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { ensureBuilt, ROOT } from './built.js'
import { createTestDatabase } from './helper.js'

// The README's `npm start`, signalled as a supervisor or a terminal signals it: the service (the
// node process under npm) must stop with it, not live on re-parented to PID 1 holding the port.

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function startAndSignal (t: Test, signal: 'SIGTERM' | 'SIGINT', args: string[]): Promise<void> {
  const databaseUrl = await createTestDatabase(t)
  // Built once for every test file that runs the service; prestart (the build) is skipped so two
  // builds never write dist/ at once. .ci/run runs the whole `npm start`.
  await ensureBuilt()
  const npm = spawn('npm', ['start', '--ignore-scripts', ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      CACHE: 'off',
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      JWT_SECRET: 'npm-start-test-secret-0123456789abcdef'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const service: { pid?: number } = {}
  t.teardown(() => {
    if (npm.exitCode === null) npm.kill('SIGKILL')
    if (service.pid !== undefined && alive(service.pid)) process.kill(service.pid, 'SIGKILL')
  })
  let output = ''
  npm.stderr.on('data', data => { output += data })
  const listening = new Promise<{ pid: number, api: string }>((resolve, reject) => {
    npm.stdout.setEncoding('utf8')
    let buffer = ''
    npm.stdout.on('data', (data: string) => {
      output += data
      buffer += data
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        if (!line.startsWith('{')) continue
        const entry = JSON.parse(line) as { pid: number, api?: string }
        if (entry.api !== undefined) resolve({ pid: entry.pid, api: entry.api })
      }
    })
    npm.once('exit', code => reject(new Error(`npm start exited (${code}) before serving:\n${output}`)))
  })
  const { pid, api } = await listening
  service.pid = pid
  t.not(pid, npm.pid, 'the service is its own process under npm')
  t.equal((await fetch(`${api}/tags`)).status, 200, 'serving')

  const exited = once(npm, 'exit')
  npm.kill(signal)
  const [code, bySignal] = await Promise.race([exited, sleep(30_000, undefined, { ref: false }).then(() => ['timeout', null])])
  t.not(code, 'timeout', 'npm exits')
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(100)
  t.notOk(alive(pid), `the service process is gone after ${signal} to npm start`)
  await t.rejects(fetch(`${api}/tags`), 'nothing answers on its port')
  t.equal(code, 0, `npm start exits 0 (got ${String(code)} ${String(bySignal)})`)
}

t.test('SIGTERM to npm start stops the service', async t => {
  await startAndSignal(t, 'SIGTERM', [])
})

t.test('SIGINT to npm start stops the service', async t => {
  await startAndSignal(t, 'SIGINT', [])
})
