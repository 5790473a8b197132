import type { Repositories } from '../repositories/repositories.js'
import type { ArticleCore, ArticleFilter, ArticleIdFilter, ArticleRow } from '../repositories/articles.js'
import type { CommentCore, CommentRow } from '../repositories/comments.js'
import type { UserRow } from '../repositories/users.js'
import type { Cache } from './cache.js'
import { KIND, keys } from './keys.js'

const byString = <K, V>(map: Map<K, V>) => new Map([...map].map(([k, v]) => [String(k), v]))
const withDates = <T extends { createdAt: Date | string, updatedAt: Date | string }>(row: T): T =>
  ({ ...row, createdAt: new Date(row.createdAt), updatedAt: new Date(row.updatedAt) })
/** How many of a list's first ids are cached as one entry (five pages of 20). */
const HEAD = 100
const defined = <T>(values: Array<T | undefined>): T[] => values.filter((v): v is T => v !== undefined)

/**
 * The repositories with their reads served through the cache. Only viewer-independent data is
 * cached, normalised (an article does not embed its author, a comment list does not embed its
 * commenters), so a change invalidates a handful of keys instead of fanning out; the per-viewer
 * flags come from each user's cached sets of favorites and follows. Writes go to PostgreSQL and
 * return once their change notification has been applied (invalidation.ts says what it drops).
 */
export function cachedRepositories (base: Repositories, cache: Cache): Repositories {
  const numeric = <T>(fetch: (ids: number[]) => Promise<Map<number, T>>) =>
    async (ids: string[]) => byString(await fetch(ids.map(Number)))

  const users = cache.define<UserRow>(KIND.user, { fetch: numeric(base.users.byIds) })
  const articles = cache.define<ArticleCore>(KIND.article, {
    fetch: numeric(base.articles.coreByIds), revive: withDates
  })
  // A cold article page would take three queries (slug, article, author): one query loads all
  // three and primes the article and user entries on the way.
  const slugs = cache.define<number>(KIND.slug, {
    fetch: async wanted => {
      const since = cache.clock
      const rows = await base.articles.bySlugs(wanted)
      for (const row of rows) {
        const { username, bio, image, email, ...core } = row as ArticleRow & { body: string, email: string }
        articles.prime(String(row.id), core, since)
        users.prime(String(row.authorId), { id: row.authorId, username, email, bio, image }, since)
      }
      return new Map(rows.map(row => [row.slug, row.id]))
    }
  })
  const usernames = cache.define<number>(KIND.username, { fetch: base.users.idsByUsernames })
  const favorites = cache.define<number[]>(KIND.favorites, { fetch: numeric(base.relations.favoritedBy) })
  const follows = cache.define<number[]>(KIND.follows, { fetch: numeric(base.relations.followedBy) })
  const comments = cache.define<CommentCore[]>(KIND.comments, {
    fetch: numeric(base.comments.coreByArticles),
    revive: list => list.map(withDates)
  })
  const tags = cache.define<string[]>(KIND.tags, { fetch: async () => new Map([['all', await base.tags.list()]]) })
  const tagIds = cache.define<number>(KIND.tagId, { fetch: base.tags.idsByNames })
  // List pages are filtered by ids, so a rename does not touch them, and each depends on one key
  // per filter it uses (see invalidation.ts). In process only: a page's many dependencies cannot
  // be invalidated in Redis by key. A page's ids and its filter's count are kept apart: a change
  // evicts every page of a filter, and its pages then share one count instead of each counting.
  const listRefs = (filter: ArticleIdFilter): string[] => {
    const refs = [keys.lists]
    if (filter.tag !== undefined) refs.push(keys.tagLists(filter.tag))
    if (filter.author !== undefined) refs.push(keys.authorLists(filter.author))
    if (filter.favorited !== undefined) refs.push(keys.favoritedLists(filter.favorited))
    if (filter.followedBy !== undefined) refs.push(keys.feedLists, keys.follows(filter.followedBy))
    return refs.length === 1 ? [...refs, keys.recentLists] : refs
  }
  // In process only, keyed by JSON: `filterOf` reads the filter back out of a key.
  const listCache = <T>(name: string, filterOf: (id: string) => ArticleIdFilter, load: (id: string) => Promise<T>) =>
    cache.define<T>(name, {
      redis: false,
      refs: id => listRefs(filterOf(id)),
      fetch: async ids => new Map(await Promise.all(ids.map(async id => [id, await load(id)] as const)))
    })
  type PageKey = { filter: ArticleIdFilter, limit: number, offset: number }
  const pages = listCache('list', id => (JSON.parse(id) as PageKey).filter, async id => {
    const { filter, limit, offset } = JSON.parse(id) as PageKey
    return await base.articles.pageIds(filter, limit, offset)
  })
  // The first HEAD ids of each filter are one entry: after a change evicts a filter's pages, its
  // first pages (nearly all reads) are refilled by one query instead of one per limit and offset.
  const filterKey = (id: string) => JSON.parse(id) as ArticleIdFilter
  const heads = listCache('head', filterKey, id => base.articles.pageIds(filterKey(id), HEAD, 0))
  const counts = listCache('count', filterKey, id => base.articles.count(filterKey(id)))

  /** The filter with its names resolved to ids; undefined when a name matches nothing. */
  async function resolve (filter: ArticleFilter): Promise<ArticleIdFilter | undefined> {
    const [tag, author, favorited] = await Promise.all([
      filter.tag === undefined ? undefined : tagIds.get(filter.tag),
      filter.author === undefined ? undefined : usernames.get(filter.author),
      filter.favorited === undefined ? undefined : usernames.get(filter.favorited)
    ])
    if ((filter.tag !== undefined && tag === undefined) || (filter.author !== undefined && author === undefined) ||
      (filter.favorited !== undefined && favorited === undefined)) return undefined
    // Members in a fixed order, so equal filters make equal keys.
    return { tag, author, favorited, followedBy: filter.followedBy }
  }

  async function withAuthors<T extends { authorId: number }> (rows: T[]): Promise<Array<T & { username: string, bio: string, image: string }>> {
    const authors = await users.many(rows.map(row => String(row.authorId)))
    return rows.flatMap((row, i) => {
      const author = authors[i]
      return author === undefined ? [] : [{ ...row, username: author.username, bio: author.bio, image: author.image }]
    })
  }

  async function articleById (id: number): Promise<ArticleRow | undefined> {
    const core = await articles.get(String(id))
    return core === undefined ? undefined : (await withAuthors([core]))[0]
  }

  // A write through the API: committed, then settled (its change applied by every instance).
  const settled = <A extends unknown[], R>(write: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
    const result = await write(...args)
    await cache.written()
    return result
  }

  return {
    users: {
      ...base.users,
      findById: id => users.get(String(id)),
      create: settled(base.users.create),
      update: settled(base.users.update)
    },

    profiles: {
      ...base.profiles,
      async findByUsername (username) {
        const id = await usernames.get(username)
        return id === undefined ? undefined : await users.get(String(id))
      },
      follow: settled(base.profiles.follow),
      unfollow: settled(base.profiles.unfollow)
    },

    relations: {
      ...base.relations,
      async forViewer (viewerId, articleIds, authorIds) {
        if (viewerId === null) return { favorited: new Set(), following: new Set() }
        const [favorited, following] = await Promise.all([
          articleIds.length > 0 ? favorites.get(String(viewerId)) : undefined,
          authorIds.length > 0 ? follows.get(String(viewerId)) : undefined
        ])
        return { favorited: new Set(favorited), following: new Set(following) }
      }
    },

    articles: {
      ...base.articles,
      async listPage (filter, limit, offset) {
        const resolved = await resolve(filter)
        if (resolved === undefined) return { ids: [], total: 0 }
        const key = JSON.stringify(resolved)
        const [ids, total] = await Promise.all([
          offset + limit <= HEAD
            ? heads.get(key).then(head => head?.slice(offset, offset + limit))
            : pages.get(JSON.stringify({ filter: resolved, limit, offset })),
          counts.get(key)
        ])
        return { ids: ids ?? [], total: total ?? 0 }
      },
      findListItems: async ids => withAuthors(defined(await articles.many(ids.map(String)))),
      async findBySlug (slug) {
        const id = await slugs.get(slug)
        const row = id === undefined ? undefined : await articleById(id)
        // The slug may have moved to another title since its id was cached.
        return row?.slug === slug ? row : undefined
      },
      create: settled(base.articles.create),
      update: settled(base.articles.update),
      remove: settled(base.articles.remove),
      favorite: settled(base.articles.favorite),
      unfavorite: settled(base.articles.unfavorite)
    },

    comments: {
      ...base.comments,
      async listByArticle (articleId): Promise<CommentRow[]> {
        return withAuthors((await comments.get(String(articleId))) ?? [])
      },
      create: settled(base.comments.create),
      async remove (id) {
        const articleId = await base.comments.remove(id)
        if (articleId !== undefined) await cache.written()
        return articleId
      }
    },

    tags: {
      ...base.tags,
      list: async () => (await tags.get('all')) ?? []
    }
  }
}
