// The repositories the routes use, as one set: what the plugin decorates and the cache wraps.
import type pg from 'pg'
import { articlesRepository, type ArticlesRepository } from './articles.js'
import { commentsRepository, type CommentsRepository } from './comments.js'
import { profilesRepository, type ProfilesRepository } from './profiles.js'
import { relationsRepository, type RelationsRepository } from './relations.js'
import { tagsRepository, type TagsRepository } from './tags.js'
import { usersRepository, type UsersRepository } from './users.js'

export interface Repositories {
  users: UsersRepository
  profiles: ProfilesRepository
  relations: RelationsRepository
  articles: ArticlesRepository
  comments: CommentsRepository
  tags: TagsRepository
}

export function createRepositories (pool: pg.Pool): Repositories {
  return {
    users: usersRepository(pool),
    profiles: profilesRepository(pool),
    relations: relationsRepository(pool),
    articles: articlesRepository(pool),
    comments: commentsRepository(pool),
    tags: tagsRepository(pool)
  }
}
