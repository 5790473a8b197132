/** Cache keys, named once: the writers that invalidate them and the reads that fill them agree. */
export const keys = {
  article: (id: number) => `article:${id}`,
  slug: (slug: string) => `slug:${slug}`,
  user: (id: number) => `user:${id}`,
  username: (username: string) => `username:${username}`,
  favorites: (userId: number) => `favs:${userId}`,
  follows: (userId: number) => `follows:${userId}`,
  comments: (articleId: number) => `comments:${articleId}`,
  tagId: (name: string) => `tagid:${name}`,
  tags: 'tags:all',
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

/** Every kind of key, for when nothing can be trusted (after a gap in change notifications). */
export const ALL_KINDS = ['article', 'slug', 'user', 'username', 'favs', 'follows', 'comments', 'tags', 'tagid']
