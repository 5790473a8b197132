// A development secret kept in a file, so what it signs (saved tokens) survives a restart.
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

const MIN_LENGTH = 32

/** The secret in `file`, created (readable by this user only) when missing or too short. */
export async function keptSecret (file: string): Promise<string> {
  const existing = await readFile(file, 'utf8').then(text => text.trim(), () => '')
  if (existing.length >= MIN_LENGTH) return existing
  const secret = randomBytes(32).toString('base64url')
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, `${secret}\n`, { mode: 0o600 })
  return secret
}
