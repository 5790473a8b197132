/**
 * The kinds of cached entries, named once: each is an entry definition's name (cached-repositories.ts),
 * the head of its keys (`<kind>:<id>`), and in Redis the generation every entry of the kind carries.
 */
export const KIND = {
  article: 'article',
  slug: 'slug',
  user: 'user',
  username: 'username',
  favorites: 'favs',
  follows: 'follows',
  comments: 'comments',
  tags: 'tags',
  tagId: 'tagid'
} as const
export type Kind = typeof KIND[keyof typeof KIND]

/** Every kind, for when nothing can be trusted (after a gap in change notifications). */
export const ALL_KINDS: Kind[] = Object.values(KIND)

/** In Redis, the generation of a kind: bumped, it makes every entry of the kind unreadable at once. */
export const kindGenerationKey = (kind: string) => `${kind}#kind`

/** The key of one entry of a kind. */
export const entryKey = (kind: string, id: string | number) => `${kind}:${id}`

const keyOf = <Id extends string | number>(kind: Kind) => (id: Id) => entryKey(kind, id)

/** Cache keys, named once: the writers that invalidate them and the reads that fill them agree. */
export const keys = {
  article: keyOf<number>(KIND.article),
  slug: keyOf<string>(KIND.slug),
  user: keyOf<number>(KIND.user),
  username: keyOf<string>(KIND.username),
  favorites: keyOf<number>(KIND.favorites),
  follows: keyOf<number>(KIND.follows),
  comments: keyOf<number>(KIND.comments),
  tagId: keyOf<string>(KIND.tagId),
  tags: `${KIND.tags}:all`,
  /**
   * List pages. Each page depends on `lists` (every page: for changes whose effect on lists
   * cannot be narrowed) and on one key per filter it uses, named by id: a change evicts only the
   * pages whose filter it can affect.
   */
  lists: 'lists',
  /** pages without a filter */
  recentLists: 'lists:recent',
  tagLists: (tagId: number) => `lists:tag:${tagId}`,
  authorLists: (userId: number) => `lists:author:${userId}`,
  favoritedLists: (userId: number) => `lists:favorited:${userId}`,
  /** every user's feed (a new article's author's followers are not known here) */
  feedLists: 'lists:feed',
  /** A whole anonymous response, in this process only (plugins/response-cache.ts). */
  response: (url: string) => `http:${url}`
}
