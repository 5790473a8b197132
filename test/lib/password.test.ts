import t from 'tap'
import { hashPassword, verifyPassword } from '../../src/lib/password.js'

t.test('hashPassword', async t => {
  t.test('stores scheme, parameters, salt and key', async t => {
    const hash = await hashPassword('correct horse battery staple')
    const parts = hash.split('$')
    t.equal(parts.length, 6)
    t.match(hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/)
    t.equal(Buffer.from(parts[4] ?? '', 'base64').length, 16, '16-byte salt')
    t.equal(Buffer.from(parts[5] ?? '', 'base64').length, 32, '32-byte key')
    t.notOk(hash.includes('correct horse'), 'not the password')
  })

  t.test('is salted: the same password twice gives two hashes', async t => {
    const [a, b] = await Promise.all([hashPassword('password123'), hashPassword('password123')])
    t.not(a, b)
    t.not(a?.split('$')[4], b?.split('$')[4], 'different salts')
    t.ok(await verifyPassword('password123', a as string))
    t.ok(await verifyPassword('password123', b as string))
  })
})

t.test('verifyPassword', async t => {
  const hash = await hashPassword('password123')

  t.test('true for the right password', async t => {
    t.equal(await verifyPassword('password123', hash), true)
  })

  t.test('false for a wrong password', async t => {
    for (const wrong of ['password124', 'Password123', 'password123 ', ' password123', 'password12', '', 'password123password123']) {
      t.equal(await verifyPassword(wrong, hash), false, JSON.stringify(wrong))
    }
  })

  t.test('unicode passwords, compared after NFKC normalisation', async t => {
    const composed = 'caf\u00e9-pässwörd'
    const decomposed = composed.normalize('NFD')
    t.not(composed, decomposed)
    const stored = await hashPassword(composed)
    t.equal(await verifyPassword(composed, stored), true)
    t.equal(await verifyPassword(decomposed, stored), true, 'the same text typed another way')
    t.equal(await verifyPassword('cafe-passwort', stored), false)
    t.equal(await verifyPassword('🔑 key', await hashPassword('🔑 key')), true)
  })

  t.test('a long password', async t => {
    const long = 'x'.repeat(256)
    const stored = await hashPassword(long)
    t.equal(await verifyPassword(long, stored), true)
    t.equal(await verifyPassword('x'.repeat(255), stored), false)
  })

  t.test('false (not a throw) for a stored hash of another shape', async t => {
    const [, N, r, p, salt, key] = hash.split('$')
    const malformed = [
      '',
      'password123',
      '$$$$$',
      'scrypt',
      'scrypt$',
      `scrypt$${N}$${r}$${p}`,
      `scrypt$${N}$${r}$${p}$${salt}`,
      `scrypt$${N}$${r}$${p}$${salt}$`,
      `bcrypt$${N}$${r}$${p}$${salt}$${key}`,
      `$2b$10$${'a'.repeat(53)}`,
      `scrypt$${N}$${r}$${p}$${salt}$${Buffer.alloc(32).toString('base64')}`,
      `scrypt$${N}$${r}$${p}$${salt}$${key?.slice(0, 20)}`,
      `scrypt$${N}$${r}$${p}$${key}$${salt}`
    ]
    for (const stored of malformed) {
      t.equal(await verifyPassword('password123', stored), false, JSON.stringify(stored))
    }
  })

  t.test('false (not a throw) for a stored hash with unusable parameters', async t => {
    const [, , , , salt, key] = hash.split('$')
    const unusable = [
      `scrypt$abc$8$1$${salt}$${key}`, // N not a number
      `scrypt$$8$1$${salt}$${key}`, // N empty
      `scrypt$1000$8$1$${salt}$${key}`, // N not a power of two
      `scrypt$16384$0$1$${salt}$${key}`, // r zero
      `scrypt$16384$8$-1$${salt}$${key}`, // p negative
      `scrypt$1073741824$8$1$${salt}$${key}` // beyond maxmem
    ]
    for (const stored of unusable) {
      let result: unknown
      try {
        result = await verifyPassword('password123', stored)
      } catch (err) {
        result = err
      }
      t.equal(result, false, `${JSON.stringify(stored)} → ${result instanceof Error ? `threw ${result.message}` : String(result)}`)
    }
  })

  t.test('a hash still verifies with the parameters it was stored with', async t => {
    // Parameters are read from the stored hash, so raising PARAMS later keeps old hashes valid.
    const { scryptSync, randomBytes } = await import('node:crypto')
    const salt = randomBytes(16)
    const key = scryptSync('old-password', salt, 32, { N: 1024, r: 8, p: 1 })
    const stored = ['scrypt', 1024, 8, 1, salt.toString('base64'), key.toString('base64')].join('$')
    t.equal(await verifyPassword('old-password', stored), true)
    t.equal(await verifyPassword('new-password', stored), false)
  })
})
