import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdempotencyKeyReused, LoginFailed, TokenInvalid } from '../errors.js'
import { hashPassword, verifyPassword } from '../lib/password.js'
import type { UserRow } from '../repositories/users.js'
import { errors } from '../schemas/errors.js'
import { IdempotencyHeaders } from '../schemas/idempotency.js'
import { LoginBody, NewUserBody, UpdateUserBody, UserResponse } from '../schemas/user.js'

// Hashed once at boot: a login for an unknown email costs as much as one with a wrong password.
const DUMMY_HASH = await hashPassword('timing-equaliser')

const users: FastifyPluginAsyncTypebox = async app => {
  const { users } = app.repos
  const present = (row: UserRow) => ({
    user: { email: row.email, token: app.tokens.sign(row.id), username: row.username, bio: row.bio, image: row.image }
  })
  // Every answer of these routes carries a token: no cache (browser, proxy) may keep one.
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
  })

  app.post('/users', {
    config: { limit: 'auth' },
    schema: {
      tags: ['User and Authentication'],
      summary: 'Register a new user',
      operationId: 'CreateUser',
      headers: IdempotencyHeaders,
      body: NewUserBody,
      response: { 201: UserResponse, ...errors(422) }
    }
  }, async (request, reply) => {
    const { username, email, password } = request.body.user
    const row = await app.idempotency.once(request, {
      // Anonymous, so the key belongs to the email being registered: nobody else can register it
      // anyway. The password is not in the fingerprint (that would be a fast, unsalted hash of
      // it): a replay hands out a token only for the password the user was created with.
      scope: `email:${email.toLowerCase()}`,
      fields: { username, email },
      create: async key => users.create({ username, email, passwordHash: await hashPassword(password) }, key),
      async replay (id) {
        const row = await users.findByEmailForLogin(email)
        if (row?.id !== id || !await verifyPassword(password, row.passwordHash)) throw new IdempotencyKeyReused()
        return row
      }
    })
    return reply.code(201).send(present(row))
  })

  app.post('/users/login', {
    config: { limit: 'auth' },
    schema: {
      tags: ['User and Authentication'],
      summary: 'Existing user login',
      operationId: 'Login',
      headers: IdempotencyHeaders,
      body: LoginBody,
      response: { 200: UserResponse, ...errors(401, 422) }
    }
  }, async request => {
    const { email, password } = request.body.user
    const row = await users.findByEmailForLogin(email)
    const ok = await verifyPassword(password, row?.passwordHash ?? DUMMY_HASH)
    if (row === undefined || !ok) throw new LoginFailed()
    return present(row)
  })

  app.get('/user', {
    onRequest: app.auth.required,
    schema: {
      tags: ['User and Authentication'],
      summary: 'Get current user',
      operationId: 'GetCurrentUser',
      response: { 200: UserResponse, ...errors(401) }
    }
  }, async request => present(request.user as UserRow))

  app.put('/user', {
    onRequest: app.auth.required,
    schema: {
      tags: ['User and Authentication'],
      summary: 'Update current user',
      operationId: 'UpdateCurrentUser',
      body: UpdateUserBody,
      response: { 200: UserResponse, ...errors(401, 422) }
    }
  }, async request => {
    const { email, username, password, bio, image } = request.body.user
    const row = await users.update(request.userId as number, {
      email,
      username,
      passwordHash: password === undefined ? undefined : await hashPassword(password),
      // null clears the field: the column is never null, so null means empty.
      bio: bio === null ? '' : bio,
      image: image === null ? '' : image
    })
    if (row === undefined) throw new TokenInvalid()
    return present(row)
  })
}

export default users
