// Compiles src/ to dist/ unless dist/ is already newer than every input (`npm start` runs it
// first, so a second start does not spend its time compiling). One build at a time: test files
// running in parallel share it through a lock directory. `--check`: exit 0 when dist/ is fresh,
// 1 when it would build, without building. `--root DIR`: another checkout than this script's.
import { execFile } from 'node:child_process'
import { mkdir, readdir, rmdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'

const rootAt = process.argv.indexOf('--root')
const ROOT = rootAt > 0 && process.argv[rootAt + 1] !== undefined ? process.argv[rootAt + 1] : new URL('..', import.meta.url).pathname
const STAMP = join(ROOT, 'dist', '.built')
const LOCK = join(ROOT, 'dist.build-lock')
// What the compiled output depends on: the sources and the compiler's settings.
const INPUT_FILES = ['package.json', 'tsconfig.json', 'tsconfig.build.json']

async function newestInput () {
  let latest = 0
  for (const entry of await readdir(join(ROOT, 'src'), { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, (await stat(join(entry.parentPath, entry.name))).mtimeMs)
  }
  for (const file of INPUT_FILES) latest = Math.max(latest, (await stat(join(ROOT, file))).mtimeMs)
  return latest
}

async function fresh () {
  try {
    return (await stat(STAMP)).mtimeMs >= await newestInput()
  } catch {
    return false
  }
}

async function build () {
  for (let waited = 0; ; waited += 200) {
    try {
      await mkdir(LOCK)
      break
    } catch {
      if (waited > 180_000) throw new Error(`${LOCK} held for 3 minutes: remove it if no build is running`)
      await sleep(200)
    }
  }
  try {
    if (await fresh()) return false
    await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT })
    await writeFile(STAMP, new Date().toISOString())
    return true
  } finally {
    await rmdir(LOCK)
  }
}

if (process.argv.includes('--check')) {
  process.exit(await fresh() ? 0 : 1)
}
const started = performance.now()
const built = await build()
console.error(built
  ? `built dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s`
  : 'dist/ is up to date (newer than src/): not rebuilding')
