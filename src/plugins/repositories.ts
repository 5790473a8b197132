import fp from 'fastify-plugin'
import { cachedRepositories } from '../cache/cached-repositories.js'
import { articlesRepository, type ArticlesRepository } from '../repositories/articles.js'
import { commentsRepository, type CommentsRepository } from '../repositories/comments.js'
import { profilesRepository, type ProfilesRepository } from '../repositories/profiles.js'
import { relationsRepository, type RelationsRepository } from '../repositories/relations.js'
import { tagsRepository, type TagsRepository } from '../repositories/tags.js'
import { usersRepository, type UsersRepository } from '../repositories/users.js'

export interface Repositories {
  users: UsersRepository
  profiles: ProfilesRepository
  relations: RelationsRepository
  articles: ArticlesRepository
  comments: CommentsRepository
  tags: TagsRepository
}

declare module 'fastify' {
  interface FastifyInstance {
    repos: Repositories
  }
}

export default fp(async app => {
  const repos: Repositories = {
    users: usersRepository(app.pg),
    profiles: profilesRepository(app.pg),
    relations: relationsRepository(app.pg),
    articles: articlesRepository(app.pg),
    comments: commentsRepository(app.pg),
    tags: tagsRepository(app.pg)
  }
  app.decorate('repos', app.cache === null ? repos : cachedRepositories(repos, app.cache.cache))
}, { name: 'repositories', dependencies: ['db', 'cache'] })
