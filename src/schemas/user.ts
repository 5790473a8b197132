import { Type } from 'typebox'
import { LOGIN, NEW_USER, UPDATE_USER, USER } from './examples.js'
import { Username } from './profile.js'
import { ref } from './ref.js'

const Email = Type.String({ format: 'email', maxLength: 254 })
const Password = Type.String({ minLength: 8, maxLength: 256 })
const Bio = Type.Union([Type.String({ maxLength: 10000 }), Type.Null()])
/** An http(s) URL with a host, or empty: anything else (javascript:, data:) would be served to every reader. */
export const HTTP_URL_PATTERN = '^(?:[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+\\S*)?$'
const Image = Type.Union([Type.String({ maxLength: 2048, pattern: HTTP_URL_PATTERN }), Type.Null()])

export const User = Type.Object({
  email: Type.String(),
  token: Type.String(),
  username: Type.String(),
  bio: Type.String(),
  image: Type.String()
}, { $id: 'User', examples: [USER] })

export const UserResponse = Type.Object({ user: ref(User) })

export const NewUserBody = Type.Object({
  user: Type.Object({ username: Username, email: Email, password: Password })
}, { examples: [NEW_USER] })

export const LoginBody = Type.Object({
  user: Type.Object({
    email: Type.String({ minLength: 1, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 256 })
  })
}, { examples: [LOGIN] })

export const UpdateUserBody = Type.Object({
  user: Type.Object({
    email: Type.Optional(Email),
    password: Type.Optional(Password),
    username: Type.Optional(Username),
    bio: Type.Optional(Bio),
    image: Type.Optional(Image)
  }, { additionalProperties: false, minProperties: 1 })
}, { examples: [UPDATE_USER] })
