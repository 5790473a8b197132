import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CannotFollowSelf, ProfileNotFound } from '../errors.js'
import { toProfile } from '../lib/present.js'
import { errors } from '../schemas/errors.js'
import { IdempotencyHeaders } from '../schemas/idempotency.js'
import { ProfileResponse, UsernameParams } from '../schemas/profile.js'

const tags = ['Profile']

const profiles: FastifyPluginAsyncTypebox = async app => {
  const { profiles, relations } = app.repos

  async function find (username: string) {
    const profile = await profiles.findByUsername(username)
    if (profile === undefined) throw new ProfileNotFound()
    return profile
  }

  app.get('/profiles/:username', {
    onRequest: app.auth.optional,
    schema: {
      tags,
      summary: 'Get a profile',
      operationId: 'GetProfileByUsername',
      params: UsernameParams,
      response: { 200: ProfileResponse, ...errors(401, 404, 422) }
    }
  }, async request => {
    const profile = await find(request.params.username)
    const viewer = await relations.forViewer(request.userId, [], [profile.id])
    return { profile: toProfile(profile, viewer.following.has(profile.id)) }
  })

  const followSchema = (summary: string, operationId: string) => ({
    tags,
    summary,
    operationId,
    params: UsernameParams,
    response: { 200: ProfileResponse, ...errors(401, 404, 422) }
  })

  async function setFollowing (username: string, userId: number, following: boolean) {
    const profile = await find(username)
    if (profile.id === userId) throw new CannotFollowSelf()
    await (following ? profiles.follow(userId, profile.id) : profiles.unfollow(userId, profile.id))
    return { profile: toProfile(profile, following) }
  }

  app.post('/profiles/:username/follow', {
    onRequest: app.auth.required,
    schema: { ...followSchema('Follow a user', 'FollowUserByUsername'), headers: IdempotencyHeaders }
  }, async request => setFollowing(request.params.username, request.userId as number, true))

  app.delete('/profiles/:username/follow', {
    onRequest: app.auth.required,
    schema: followSchema('Unfollow a user', 'UnfollowUserByUsername')
  }, async request => setFollowing(request.params.username, request.userId as number, false))
}

export default profiles
