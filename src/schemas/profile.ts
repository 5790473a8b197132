import { Type } from 'typebox'
import { PROFILE } from './examples.js'
import { ref } from './ref.js'

export const Username = Type.String({ minLength: 1, maxLength: 40, pattern: '^[\\p{L}\\p{N}_.-]+$' })

export const Profile = Type.Object({
  username: Type.String(),
  bio: Type.String(),
  image: Type.String(),
  following: Type.Boolean()
}, { $id: 'Profile', examples: [PROFILE] })

export const ProfileResponse = Type.Object({ profile: ref(Profile) })

export const UsernameParams = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 100 })
})
