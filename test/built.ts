import { execFile } from 'node:child_process'
import { mkdir, readdir, rmdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'

// Tests that run the built service (`node dist/server.js`, as the Dockerfile does) build it first,
// once for all test files running in parallel: a lock directory, and a stamp newer than every
// source file.

export const ROOT = new URL('..', import.meta.url).pathname
const STAMP = join(ROOT, 'dist', '.built')
const LOCK = join(ROOT, 'dist.build-lock')

async function newest (dir: string): Promise<number> {
  let latest = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, (await stat(join(entry.parentPath, entry.name))).mtimeMs)
  }
  return latest
}

async function fresh (): Promise<boolean> {
  try {
    const built = (await stat(STAMP)).mtimeMs
    return built >= await newest(join(ROOT, 'src')) && built >= (await stat(join(ROOT, 'package.json'))).mtimeMs
  } catch {
    return false
  }
}

/** Compiles src/ to dist/ unless dist/ is newer; returns the path of dist/server.js. */
export async function ensureBuilt (): Promise<string> {
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
    if (!await fresh()) {
      await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT })
      await writeFile(STAMP, new Date().toISOString())
    }
  } finally {
    await rmdir(LOCK)
  }
  return join(ROOT, 'dist', 'server.js')
}
