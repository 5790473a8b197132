import { Type } from 'typebox'
import { COMMENT, NEW_COMMENT } from './examples.js'
import { Profile } from './profile.js'
import { ref } from './ref.js'

export const Comment = Type.Object({
  id: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  body: Type.String(),
  author: ref(Profile)
}, { $id: 'Comment', examples: [COMMENT] })

export const CommentResponse = Type.Object({ comment: ref(Comment) })
export const MultipleComments = Type.Object({ comments: Type.Array(ref(Comment)) })

export const NewCommentBody = Type.Object({
  comment: Type.Object({ body: Type.String({ minLength: 1, maxLength: 20000, pattern: '\\S' }) })
}, { examples: [NEW_COMMENT] })

export const CommentParams = Type.Object({
  slug: Type.String({ minLength: 1, maxLength: 255 }),
  id: Type.Integer({ minimum: 1, maximum: 2147483647 })
})
