import type { ChangeEvent, ChangeTable } from '../db/change-events.js'
import { KIND, keys, type Kind } from './keys.js'

export interface Invalidation {
  /** Exact keys to drop. */
  keys: string[]
  /** Kinds of keys whose members cannot be named (bulk statements, TRUNCATE, tag renames). */
  kinds: Kind[]
}

// What each table's rows feed, when the statement is too big to name its rows.
const KINDS: Record<ChangeTable, Kind[]> = {
  users: [KIND.user, KIND.username],
  articles: [KIND.article, KIND.slug, KIND.comments, KIND.tags],
  tags: [KIND.article, KIND.tags, KIND.tagId],
  article_tags: [KIND.article, KIND.tags],
  favorites: [KIND.article, KIND.favorites],
  follows: [KIND.follows],
  comments: [KIND.comments]
}

/**
 * The cache keys a committed change makes stale, from any writer.
 *
 * List pages hold ids and totals, filtered by ids (names are resolved through the `username` and
 * `tagid` entries): which pages a change can affect follows from the rows it names. An article
 * inserted or deleted changes unfiltered pages, its author's pages and (its author's followers
 * being unknown here) every feed; its tags' and favorites' rows come and go in their own
 * statements, whose notifications evict those pages. An UPDATE of articles may move an article
 * in every list (created_at), so it evicts every page.
 */
export function invalidationFor (event: ChangeEvent): Invalidation {
  if (event.all) return { keys: event.table === 'comments' || event.table === 'follows' ? [] : [keys.lists], kinds: KINDS[event.table] }
  switch (event.table) {
    case 'users':
      return { keys: [...event.ids.map(keys.user), ...event.usernames.map(keys.username)], kinds: [] }
    case 'articles': {
      const lists = event.op === 'UPDATE'
        ? [keys.lists]
        : [keys.recentLists, keys.feedLists, ...event.authors.map(keys.authorLists)]
      return {
        keys: [...event.ids.map(keys.article), ...event.slugs.map(keys.slug), ...event.ids.map(keys.comments), keys.tags, ...lists],
        kinds: []
      }
    }
    case 'tags':
      // A renamed tag changes the tagList of articles we cannot name from here.
      return event.op === 'UPDATE'
        ? { keys: [keys.lists], kinds: KINDS.tags }
        : { keys: [keys.tags, ...event.names.map(keys.tagId)], kinds: [] }
    case 'article_tags':
      return { keys: [...event.articles.map(keys.article), keys.tags, ...event.tags.map(keys.tagLists)], kinds: [] }
    case 'favorites':
      return {
        keys: [...event.articles.map(keys.article), ...event.users.map(keys.favorites), ...event.users.map(keys.favoritedLists)],
        kinds: []
      }
    case 'follows':
      return { keys: event.followers.map(keys.follows), kinds: [] }
    case 'comments':
      return { keys: event.articles.map(keys.comments), kinds: [] }
  }
}
