import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { auth, build, registerUser, type TestUser } from '../helper.js'
import { assertError, buildWithDb, signToken, userId } from '../users-helper.js'

function getProfile (app: FastifyInstance, username: string, viewer?: TestUser) {
  return app.inject({ url: `/api/profiles/${encodeURIComponent(username)}`, headers: viewer ? auth(viewer) : {} })
}

function follow (app: FastifyInstance, method: 'POST' | 'DELETE', username: string, viewer?: TestUser) {
  return app.inject({ method, url: `/api/profiles/${encodeURIComponent(username)}/follow`, headers: viewer ? auth(viewer) : {} })
}

t.test('GET /api/profiles/:username', async t => {
  const app = await build(t)
  const celeb = await registerUser(app, 'celeb')
  const fan = await registerUser(app, 'fan')
  await app.inject({ method: 'PUT', url: '/api/user', headers: auth(celeb), payload: { user: { bio: 'famous', image: 'https://i.example.com/c.png' } } })

  t.test('200 anonymously, following false', async t => {
    const res = await getProfile(app, 'celeb')
    t.equal(res.statusCode, 200)
    t.same(res.json(), { profile: { username: 'celeb', bio: 'famous', image: 'https://i.example.com/c.png', following: false } })
    t.notMatch(res.body, /email|password|token|"id"/)
  })

  t.test('200 with a token, following false before a follow', async t => {
    const res = await getProfile(app, 'celeb', fan)
    t.equal(res.statusCode, 200)
    t.equal(res.json().profile.following, false)
  })

  t.test('following true for the follower after a follow, and only for them', async t => {
    t.equal((await follow(app, 'POST', 'celeb', fan)).statusCode, 200)
    t.equal((await getProfile(app, 'celeb', fan)).json().profile.following, true, 'the follower sees it')
    t.equal((await getProfile(app, 'celeb')).json().profile.following, false, 'anonymous does not')
    const other = await registerUser(app, 'other')
    t.equal((await getProfile(app, 'celeb', other)).json().profile.following, false, 'another user does not')
    t.equal((await getProfile(app, 'fan', celeb)).json().profile.following, false, 'not mutual')
  })

  t.test('your own profile: following false', async t => {
    const res = await getProfile(app, 'fan', fan)
    t.equal(res.statusCode, 200)
    t.match(res.json().profile, { username: 'fan', following: false })
  })

  t.test('404 for an unknown username', async t => {
    assertError(t, await getProfile(app, 'nobody'), 404, 'profile', 'not found')
    assertError(t, await getProfile(app, 'nobody', fan), 404, 'profile', 'not found')
  })

  t.test('usernames are matched exactly', async t => {
    assertError(t, await getProfile(app, 'CELEB'), 404, 'profile')
    assertError(t, await getProfile(app, 'cele'), 404, 'profile')
    assertError(t, await getProfile(app, 'celeb%'), 404, 'profile')
    assertError(t, await getProfile(app, "celeb' OR '1'='1"), 404, 'profile')
  })

  t.test('422 for an overlong username', async t => {
    assertError(t, await getProfile(app, 'x'.repeat(101)), 422, 'username')
  })

  t.test('401 for an invalid token (optional auth)', async t => {
    for (const authorization of ['Token garbage', 'Token ', `Basic ${fan.token}`, `Token ${fan.token}x`]) {
      const res = await app.inject({ url: '/api/profiles/celeb', headers: { authorization } })
      assertError(t, res, 401, 'token')
    }
  })

  t.test('401 for an expired token (optional auth)', async t => {
    const expired = signToken({ sub: '1' }, { expiresIn: 1000, clockTimestamp: Date.now() - 3600_000 })
    assertError(t, await app.inject({ url: '/api/profiles/celeb', headers: { authorization: `Token ${expired}` } }), 401, 'token', 'has expired')
  })

  t.test('an empty Authorization header is anonymous', async t => {
    const res = await app.inject({ url: '/api/profiles/celeb', headers: { authorization: '' } })
    t.equal(res.statusCode, 200)
    t.equal(res.json().profile.following, false)
  })
})

t.test('POST/DELETE /api/profiles/:username/follow', async t => {
  const { app, sql } = await buildWithDb(t)
  const star = await registerUser(app, 'star')
  const fan = await registerUser(app, 'follower')

  async function followRows () {
    return sql('SELECT 1 FROM follows WHERE follower_id = $1 AND followee_id = $2',
      [await userId(sql, 'follower'), await userId(sql, 'star')])
  }

  t.test('follow: 200 with the profile, following true; twice is fine', async t => {
    for (const attempt of [1, 2]) {
      const res = await follow(app, 'POST', 'star', fan)
      t.equal(res.statusCode, 200, `follow #${attempt}`)
      t.same(res.json(), { profile: { username: 'star', bio: '', image: '', following: true } })
    }
    t.equal((await followRows()).length, 1, 'one follow row')
    t.equal((await getProfile(app, 'star', fan)).json().profile.following, true)
  })

  t.test('unfollow: 200 with following false; twice is fine', async t => {
    for (const attempt of [1, 2]) {
      const res = await follow(app, 'DELETE', 'star', fan)
      t.equal(res.statusCode, 200, `unfollow #${attempt}`)
      t.same(res.json(), { profile: { username: 'star', bio: '', image: '', following: false } })
    }
    t.equal((await followRows()).length, 0, 'no follow row')
    t.equal((await getProfile(app, 'star', fan)).json().profile.following, false)
  })

  t.test('follow again after unfollowing', async t => {
    t.equal((await follow(app, 'POST', 'star', fan)).json().profile.following, true)
    t.equal((await getProfile(app, 'star', fan)).json().profile.following, true)
    await follow(app, 'DELETE', 'star', fan)
  })

  t.test('422 for following or unfollowing yourself', async t => {
    assertError(t, await follow(app, 'POST', 'star', star), 422, 'profile', 'cannot follow yourself')
    assertError(t, await follow(app, 'DELETE', 'star', star), 422, 'profile')
    t.equal((await getProfile(app, 'star', star)).json().profile.following, false)
  })

  t.test('401 without a token', async t => {
    assertError(t, await follow(app, 'POST', 'star'), 401, 'token', 'is missing')
    assertError(t, await follow(app, 'DELETE', 'star'), 401, 'token', 'is missing')
  })

  t.test('401 with an invalid token', async t => {
    for (const method of ['POST', 'DELETE'] as const) {
      const res = await app.inject({ method, url: '/api/profiles/star/follow', headers: { authorization: 'Token not.a.jwt' } })
      assertError(t, res, 401, 'token')
    }
  })

  t.test('401 wins over 404: no token, unknown user', async t => {
    assertError(t, await follow(app, 'POST', 'nobody'), 401, 'token')
  })

  t.test('401 wins over 422: no token, invalid username', async t => {
    assertError(t, await follow(app, 'POST', 'x'.repeat(101)), 401, 'token')
    assertError(t, await follow(app, 'DELETE', 'x'.repeat(101)), 401, 'token')
  })

  t.test('404 for an unknown user', async t => {
    assertError(t, await follow(app, 'POST', 'nobody', fan), 404, 'profile', 'not found')
    assertError(t, await follow(app, 'DELETE', 'nobody', fan), 404, 'profile', 'not found')
  })

  t.test('Content-Type: application/json with an empty body works (as frontends send it)', async t => {
    for (const method of ['POST', 'DELETE'] as const) {
      const res = await app.inject({
        method,
        url: '/api/profiles/star/follow',
        headers: { ...auth(fan), 'content-type': 'application/json' }
      })
      t.equal(res.statusCode, 200, `${method} (body ${res.body})`)
      t.equal(res.json().profile.following, method === 'POST')
    }
  })

  t.test('a body of whitespace or {} works too', async t => {
    for (const payload of ['   ', '{}']) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/profiles/star/follow',
        headers: { ...auth(fan), 'content-type': 'application/json' },
        payload
      })
      t.equal(res.statusCode, 200, JSON.stringify(payload))
    }
    await follow(app, 'DELETE', 'star', fan)
  })

  t.test('a follow of a user who is then deleted disappears', async t => {
    const gone = await registerUser(app, 'leaving')
    await follow(app, 'POST', 'leaving', fan)
    await sql('DELETE FROM users WHERE id = $1', [await userId(sql, 'leaving')])
    assertError(t, await getProfile(app, 'leaving', fan), 404, 'profile')
    assertError(t, await follow(app, 'DELETE', 'leaving', fan), 404, 'profile')
    t.ok(gone.token)
  })

  t.test('401 (not 500) for a token whose user was deleted', async t => {
    const ghost = await registerUser(app, 'ghost')
    await sql('DELETE FROM users WHERE id = $1', [await userId(sql, 'ghost')])
    assertError(t, await follow(app, 'POST', 'star', ghost), 401, 'token')
    assertError(t, await follow(app, 'DELETE', 'star', ghost), 401, 'token')
  })
})
