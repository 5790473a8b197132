import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'

// The alerting rules an on-call engineer starts from, checked and unit-tested with Prometheus's
// own promtool (Debian package `prometheus`; .ci/run installs it).
const run = promisify(execFile)
const OPS = new URL('../ops/', import.meta.url).pathname
const promtool = await run('promtool', ['--version']).then(() => true, () => false)
const skip = promtool ? false : 'promtool not installed: apt-get install prometheus (.ci/run does)'

t.test('promtool check rules ops/alerts.yml', { skip }, async t => {
  const { stdout } = await run('promtool', ['check', 'rules', 'alerts.yml'], { cwd: OPS })
  t.match(stdout, /SUCCESS: \d+ rules found/)
})

t.test('promtool test rules ops/alerts.test.yml: every alert fires on its incident, not on a healthy service', { skip }, async t => {
  const result = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: OPS })
    .catch((err: { stdout: string, stderr: string }) => err)
  t.match(result.stdout, /SUCCESS/, `${result.stdout}${result.stderr}`)
})

t.test('every alert has a unit test and a runbook entry', async t => {
  const { readFile } = await import('node:fs/promises')
  const rules = await readFile(`${OPS}alerts.yml`, 'utf8')
  const tests = await readFile(`${OPS}alerts.test.yml`, 'utf8')
  const runbook = await readFile(`${OPS}runbook.md`, 'utf8')
  const names = [...rules.matchAll(/- alert: (\w+)/g)].map(m => m[1] as string)
  t.ok(names.length >= 7)
  for (const name of names) {
    t.match(tests, new RegExp(`alertname: ${name}\\n\\s+exp_alerts:\\n\\s+- exp_labels`), `${name} is tested firing`)
    t.match(runbook, new RegExp(`^## ${name}$`, 'm'), `${name} is in the runbook`)
    t.match(rules, new RegExp(`runbook_url: ops/runbook.md#${name.toLowerCase()}`), `${name} links its runbook entry`)
  }
})
