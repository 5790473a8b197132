// The repositories the routes use, as one set: what the plugin decorates and the cache wraps.
import type pg from 'pg'
import type { Queryable } from '../db/read-pool.js'
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

/** Writes (and reads that must see the latest commit) on `pool`, the primary; other reads through `read`. */
export function createRepositories (pool: pg.Pool, read: Queryable = pool): Repositories {
  return {
    users: usersRepository(pool, read),
    profiles: profilesRepository(pool, read),
    relations: relationsRepository(read),
    articles: articlesRepository(pool, read),
    comments: commentsRepository(pool, read),
    tags: tagsRepository(read)
  }
}
