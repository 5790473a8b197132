import fp from 'fastify-plugin'
import { Article, ArticleListItem } from '../schemas/article.js'
import { Comment } from '../schemas/comment.js'
import { ErrorBody } from '../schemas/errors.js'
import { Profile } from '../schemas/profile.js'
import { User } from '../schemas/user.js'

// Shared response shapes, registered once by $id: routes $ref them and OpenAPI names them.
export default fp(async app => {
  for (const schema of [ErrorBody, Profile, User, Article, ArticleListItem, Comment]) {
    app.addSchema(schema)
  }
}, { name: 'schemas' })
