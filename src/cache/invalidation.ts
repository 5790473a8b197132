import type { ChangeEvent, ChangeTable } from '../db/change-events.js'
import { keys } from './keys.js'

export interface Invalidation {
  /** Exact keys to drop. */
  keys: string[]
  /** Kinds of keys whose members cannot be named (bulk statements, TRUNCATE, tag renames). */
  kinds: string[]
}

// What each table's rows feed, when the statement is too big to name its rows.
const KINDS: Record<ChangeTable, string[]> = {
  users: ['user', 'username'],
  articles: ['article', 'slug', 'comments', 'tags'],
  tags: ['article', 'tags'],
  article_tags: ['article', 'tags'],
  favorites: ['article', 'favs'],
  follows: ['follows'],
  comments: ['comments']
}

/** The cache keys a committed change makes stale, from any writer. */
export function invalidationFor (event: ChangeEvent): Invalidation {
  const lists = event.table === 'comments' ? [] : [keys.lists]
  if (event.all) return { keys: lists, kinds: KINDS[event.table] }
  switch (event.table) {
    case 'users':
      return { keys: [...event.ids.map(keys.user), ...event.usernames.map(keys.username), ...lists], kinds: [] }
    case 'articles':
      return {
        keys: [...event.ids.map(keys.article), ...event.slugs.map(keys.slug), ...event.ids.map(keys.comments), keys.tags, ...lists],
        kinds: []
      }
    case 'tags':
      // A renamed tag changes the tagList of articles we cannot name from here.
      return event.op === 'UPDATE' ? { keys: lists, kinds: KINDS.tags } : { keys: [keys.tags, ...lists], kinds: [] }
    case 'article_tags':
      return { keys: [...event.articles.map(keys.article), keys.tags, ...lists], kinds: [] }
    case 'favorites':
      return { keys: [...event.articles.map(keys.article), ...event.users.map(keys.favorites), ...lists], kinds: [] }
    case 'follows':
      return { keys: event.followers.map(keys.follows), kinds: [] }
    case 'comments':
      return { keys: event.articles.map(keys.comments), kinds: [] }
  }
}
