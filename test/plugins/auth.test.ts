import { createHmac, generateKeyPairSync } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { registerUser } from '../helper.js'
import { assertError, base64url, buildWithDb, rawToken, signToken, TEST_SECRET, userId } from '../users-helper.js'

const HOUR = 3600_000

function hs256 (input: string, secret = TEST_SECRET): string {
  return createHmac('sha256', secret).update(input).digest('base64url')
}

function me (app: FastifyInstance, authorization: string) {
  return app.inject({ url: '/api/user', headers: { authorization } })
}

t.test('token attacks', async t => {
  const { app, sql } = await buildWithDb(t)
  const victim = await registerUser(app, 'victim')
  const attacker = await registerUser(app, 'attacker')
  const sub = String(await userId(sql, 'victim'))
  const future = Math.floor(Date.now() / 1000) + 3600

  /** Every bad token: 401 with errors.token on a required-auth and on an optional-auth route. */
  async function rejected (t: Test, token: string, message?: string) {
    const res = await me(app, `Token ${token}`)
    assertError(t, res, 401, 'token', message)
    const optional = await app.inject({ url: '/api/profiles/victim', headers: { authorization: `Token ${token}` } })
    assertError(t, optional, 401, 'token', message)
  }

  t.test('control: a token signed like the app signs them works', async t => {
    const res = await me(app, `Token ${signToken({ sub }, { expiresIn: '1h' })}`)
    t.equal(res.statusCode, 200)
    t.equal(res.json().user.username, 'victim')
  })

  t.test('schemes: Token, Bearer, any case, extra spaces', async t => {
    for (const scheme of ['Token', 'Bearer', 'token', 'bearer', 'TOKEN', 'BEARER']) {
      const res = await me(app, `${scheme} ${victim.token}`)
      t.equal(res.statusCode, 200, scheme)
    }
    t.equal((await me(app, `Token   ${victim.token}`)).statusCode, 200, 'several spaces')
    t.equal((await me(app, `Token ${victim.token} `)).statusCode, 200, 'trailing space')
  })

  t.test('expired', async t => {
    await rejected(t, signToken({ sub }, { expiresIn: 1000, clockTimestamp: Date.now() - HOUR }), 'has expired')
    await rejected(t, rawToken({ alg: 'HS256', typ: 'JWT' }, { sub, exp: 1 }, ''), undefined)
  })

  t.test('expired a second ago', async t => {
    const now = Math.floor(Date.now() / 1000)
    const input = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ sub, iat: now - 60, exp: now - 1 })}`
    await rejected(t, `${input}.${hs256(input)}`, 'has expired')
  })

  t.test('not yet valid (nbf in the future)', async t => {
    await rejected(t, signToken({ sub }, { expiresIn: '2h', notBefore: HOUR }))
    const input = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ sub, nbf: future, exp: future + 60 })}`
    await rejected(t, `${input}.${hs256(input)}`)
  })

  t.test('correctly signed, but for longer than the service issues tokens (7 days)', async t => {
    const now = Math.floor(Date.now() / 1000)
    await rejected(t, signToken({ sub }, { expiresIn: '70000d' }), 'is invalid')
    await rejected(t, signToken({ sub, exp: 7258118400 }, { noTimestamp: true }), 'is invalid')
    const year2200 = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ sub, iat: now, exp: 7258118400 })}`
    await rejected(t, `${year2200}.${hs256(year2200)}`, 'is invalid')
    const issuedLater = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ sub, iat: now + 86400, exp: now + 3600 * 24 * 7 })}`
    await rejected(t, `${issuedLater}.${hs256(issuedLater)}`, 'is invalid')
    const week = signToken({ sub }, { expiresIn: '7d' })
    t.equal((await me(app, `Token ${week}`)).statusCode, 200, 'the configured lifetime itself is accepted')
  })

  t.test('expired long ago, correctly signed', async t => {
    const input = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ sub, iat: 1, exp: 2 })}`
    await rejected(t, `${input}.${hs256(input)}`, 'has expired')
  })

  t.test('wrong algorithm: HS384/HS512 with the same secret', async t => {
    await rejected(t, signToken({ sub }, { algorithm: 'HS384', expiresIn: '1h' }))
    await rejected(t, signToken({ sub }, { algorithm: 'HS512', expiresIn: '1h' }))
  })

  t.test('wrong algorithm: RS256 with a key of the attacker', async t => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    await rejected(t, signToken({ sub }, { algorithm: 'RS256', key: pem, expiresIn: '1h' }))
  })

  t.test('alg: none', async t => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      await rejected(t, rawToken({ alg, typ: 'JWT' }, { sub, exp: future }))
    }
    await rejected(t, rawToken({ typ: 'JWT' }, { sub, exp: future }), undefined)
    // alg none with the valid signature left on
    const valid = signToken({ sub }, { expiresIn: '1h' })
    const [, payload, signature] = valid.split('.')
    await rejected(t, `${base64url({ alg: 'none', typ: 'JWT' })}.${payload}.${signature}`)
  })

  t.test('tampered payload: another sub, the signature kept', async t => {
    const [header, , signature] = attacker.token.split('.')
    const [, original] = victim.token.split('.')
    const claims = JSON.parse(Buffer.from(original ?? '', 'base64url').toString())
    await rejected(t, `${header}.${base64url({ ...claims, sub })}.${signature}`)
    // the attacker's own claims, with a later exp
    const [, mine] = attacker.token.split('.')
    const own = JSON.parse(Buffer.from(mine ?? '', 'base64url').toString())
    await rejected(t, `${header}.${base64url({ ...own, exp: own.exp + 3600 })}.${signature}`)
  })

  t.test('tampered signature', async t => {
    const [header, payload, signature = ''] = victim.token.split('.')
    const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1)
    await rejected(t, `${header}.${payload}.${flipped}`)
    await rejected(t, `${header}.${payload}.`)
    await rejected(t, `${header}.${payload}`)
  })

  t.test('wrong secret', async t => {
    await rejected(t, signToken({ sub }, { key: 'another-secret-'.padEnd(40, 'y'), expiresIn: '1h' }))
    await rejected(t, signToken({ sub }, { key: 'secret', expiresIn: '1h' }))
  })

  t.test('no sub', async t => {
    await rejected(t, signToken({}, { expiresIn: '1h' }))
    await rejected(t, signToken({ user: sub }, { expiresIn: '1h' }))
  })

  t.test('no exp', async t => {
    await rejected(t, signToken({ sub }))
    const input = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ sub })}`
    await rejected(t, `${input}.${hs256(input)}`)
  })

  t.test('exp that is not a number', async t => {
    for (const exp of ['never', null, true, [future]]) {
      const input = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ sub, exp })}`
      await rejected(t, `${input}.${hs256(input)}`)
    }
  })

  t.test('sub that is not a user id (correctly signed)', async t => {
    // The victim is user 1: a sub that coerces to 1 (true, ['1']) would log in as them.
    t.equal(sub, '1')
    const bad = ['abc', '', ' ', '0', '-1', '1.5', 'NaN', 'Infinity', '9007199254740993', '1e400',
      null, true, false, 1.5, [sub], [], { id: sub }]
    for (const value of bad) {
      await t.test(`sub: ${JSON.stringify(value)}`, async t => {
        const input = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ sub: value, exp: future })}`
        await rejected(t, `${input}.${hs256(input)}`)
      })
    }
  })

  t.test('sub of a user that does not exist', async t => {
    assertError(t, await me(app, `Token ${signToken({ sub: '999999' }, { expiresIn: '1h' })}`), 401, 'token')
  })

  t.test('sub beyond the integer range of the id column: 401, not 500', async t => {
    for (const big of ['2147483648', '3000000000', '9007199254740991']) {
      assertError(t, await me(app, `Token ${signToken({ sub: big }, { expiresIn: '1h' })}`), 401, 'token')
    }
  })

  t.test('garbage', async t => {
    const garbage = [
      'garbage', 'a.b.c', '...', 'a..c', '.b.', 'eyJ.eyJ.sig', 'a.b.c.d', 'a.b.c.d.e',
      `${base64url('not json')}.${base64url('not json')}.sig`,
      `${base64url('null')}.${base64url('null')}.sig`,
      `${base64url('[]')}.${base64url('[]')}.sig`,
      `${base64url('"HS256"')}.${base64url('1')}.sig`,
      rawToken({ alg: 'HS256' }, 'not json', 'sig'),
      rawToken({ alg: 'HS256' }, [sub], 'sig'),
      rawToken({ alg: ['HS256'] }, { sub, exp: future }, 'sig'),
      '%00%ff', '🙂', 'eyJhbGciOiJIUzI1NiJ9', '\\u0000',
      victim.token.split('').reverse().join('')
    ]
    for (const token of garbage) {
      await rejected(t, token)
    }
  })

  t.test('a huge header: 401, not 500', async t => {
    await rejected(t, 'a'.repeat(100_000))
    await rejected(t, `${'a'.repeat(50_000)}.${'b'.repeat(50_000)}.${'c'.repeat(50_000)}`)
    const hugeClaims = rawToken({ alg: 'HS256', typ: 'JWT', pad: 'x'.repeat(100_000) }, { sub, exp: future }, 'sig')
    await rejected(t, hugeClaims)
    // nested deeper than JSON.parse's stack allows
    const deep = rawToken({ alg: 'HS256' }, '['.repeat(100_000) + ']'.repeat(100_000), 'sig')
    await rejected(t, deep)
    const res = await me(app, `Token ${' '.repeat(50_000)}x${' '.repeat(50_000)}y`)
    assertError(t, res, 401, 'token')
  })

  t.test('the header is not a scheme and a token', async t => {
    for (const authorization of ['Token', 'Token ', 'Bearer', 'Bearer  ', 'Basic dXNlcjpwYXNz', `JWT ${victim.token}`,
      victim.token, `Token ${victim.token} ${victim.token}`, `Token,${victim.token}`, `TokenX ${victim.token}`,
      `Token\t${victim.token}`, `Token Token ${victim.token}`]) {
      assertError(t, await me(app, authorization), 401, 'token')
    }
  })

  t.test('a rejected token stays rejected, a good one keeps working (verifier cache)', async t => {
    const bad = signToken({ sub }, { key: 'another-secret-'.padEnd(40, 'y'), expiresIn: '1h' })
    for (let i = 0; i < 3; i++) {
      assertError(t, await me(app, `Token ${bad}`), 401, 'token')
      t.equal((await me(app, `Token ${victim.token}`)).statusCode, 200)
    }
  })

  t.test('never a 500 on the routes that take a token', async t => {
    const token = rawToken({ alg: 'none' }, { sub, exp: future })
    const requests = [
      { method: 'GET', url: '/api/user' },
      { method: 'PUT', url: '/api/user', payload: { user: { bio: 'pwned' } } },
      { method: 'GET', url: '/api/profiles/victim' },
      { method: 'POST', url: '/api/profiles/victim/follow' },
      { method: 'DELETE', url: '/api/profiles/victim/follow' },
      { method: 'GET', url: '/api/articles' },
      { method: 'GET', url: '/api/articles/feed' },
      { method: 'POST', url: '/api/articles', payload: { article: { title: 't', description: 'd', body: 'b' } } }
    ] as const
    for (const r of requests) {
      const res = await app.inject({ ...r, headers: { authorization: `Token ${token}` } })
      assertError(t, res, 401, 'token')
    }
    t.equal((await me(app, `Token ${victim.token}`)).json().user.bio, '', 'nothing was changed')
  })
})
