import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

// scrypt runs on libuv's thread pool, so hashing never blocks the event loop.
const PARAMS = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }
const KEY_LENGTH = 32

function derive (password: string, salt: Buffer, params: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, params, (err, key) => err ? reject(err) : resolve(key))
  })
}

/** `scrypt$N$r$p$salt$key`, parameters stored so they can be raised later without breaking old hashes. */
export async function hashPassword (password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, PARAMS)
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64'), key.toString('base64')].join('$')
}

export async function verifyPassword (password: string, stored: string): Promise<boolean> {
  const [scheme, N, r, p, salt, key, ...rest] = stored.split('$')
  if (scheme !== 'scrypt' || salt === undefined || key === undefined || rest.length > 0) return false
  // Node reads 0 as "the default" and throws on values it refuses: accept positive integers only.
  if (![N, r, p].every(n => n !== undefined && /^[1-9][0-9]{0,9}$/.test(n))) return false
  const expected = Buffer.from(key, 'base64')
  if (expected.length !== KEY_LENGTH) return false
  let actual: Buffer
  try {
    actual = await derive(password, Buffer.from(salt, 'base64'), {
      N: Number(N), r: Number(r), p: Number(p), maxmem: PARAMS.maxmem
    })
  } catch {
    return false // parameters scrypt refuses: N not a power of two, beyond maxmem
  }
  return timingSafeEqual(actual, expected)
}
