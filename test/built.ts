import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'

// Tests that run the built service (`node dist/server.js`, as the Dockerfile does) build it first
// as `npm start` does (scripts/build-if-stale.mjs): once for all test files running in parallel,
// and not at all when dist/ is newer than every source file.

export const ROOT = new URL('..', import.meta.url).pathname

/** Compiles src/ to dist/ unless dist/ is newer; returns the path of dist/server.js. */
export async function ensureBuilt (): Promise<string> {
  await promisify(execFile)('node', [join(ROOT, 'scripts', 'build-if-stale.mjs')], { cwd: ROOT })
  return join(ROOT, 'dist', 'server.js')
}
