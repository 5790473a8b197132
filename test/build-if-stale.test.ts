import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { ROOT } from './built.js'

// scripts/build-if-stale.mjs (npm start's prestart): dist/ is rebuilt only when an input is newer
// than its stamp. Checked on a checkout of its own (--root), so the real dist/ is not touched.

const SCRIPT = path.join(ROOT, 'scripts', 'build-if-stale.mjs')
const check = (root: string) => promisify(execFile)('node', [SCRIPT, '--check', '--root', root]).then(() => 'fresh', () => 'stale')

t.test('fresh while dist/.built is newer than src/, package.json and the tsconfigs; stale otherwise', async t => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'gravity-build-'))
  t.teardown(() => fs.rm(root, { recursive: true, force: true }))
  await fs.mkdir(path.join(root, 'src', 'plugins'), { recursive: true })
  await fs.mkdir(path.join(root, 'dist'))
  const inputs = ['src/app.ts', 'src/plugins/db.ts', 'package.json', 'tsconfig.json', 'tsconfig.build.json']
  for (const file of inputs) await fs.writeFile(path.join(root, file), '')
  t.equal(await check(root), 'stale', 'never built')

  const stamp = path.join(root, 'dist', '.built')
  await fs.writeFile(stamp, '')
  const past = new Date(Date.now() - 60_000)
  for (const file of inputs) await fs.utimes(path.join(root, file), past, past)
  t.equal(await check(root), 'fresh', 'built after every input changed')

  for (const file of inputs) {
    await fs.utimes(path.join(root, file), new Date(), new Date(Date.now() + 1000))
    t.equal(await check(root), 'stale', `${file} changed since the build`)
    await fs.utimes(path.join(root, file), past, past)
  }
})

t.test('the real checkout: fresh right after a build (npm start does not compile again)', async t => {
  const { ensureBuilt } = await import('./built.js')
  await ensureBuilt()
  t.equal(await check(ROOT), 'fresh')
})
