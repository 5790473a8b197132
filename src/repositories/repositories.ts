// The repositories the routes use, as one set: what the plugin decorates and the cache wraps.
import type pg from 'pg'
import type { Queryable } from '../db/read-pool.js'
import { unprepared, type StatementOf } from '../db/statement.js'
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

/**
 * Writes (and reads that must see the latest commit) on `pool`, the primary; other reads through
 * `read`, the hot ones as `statement` makes them (named, or plain text).
 */
export function createRepositories (pool: pg.Pool, read: Queryable = pool, statement: StatementOf = unprepared): Repositories {
  return {
    users: usersRepository(pool, read, statement),
    profiles: profilesRepository(pool, read, statement),
    relations: relationsRepository(read, statement),
    articles: articlesRepository(pool, read, statement),
    comments: commentsRepository(pool, read, statement),
    tags: tagsRepository(read, statement)
  }
}
