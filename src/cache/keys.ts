/** Cache keys, named once: the writers that invalidate them and the reads that fill them agree. */
export const keys = {
  article: (id: number) => `article:${id}`,
  slug: (slug: string) => `slug:${slug}`,
  user: (id: number) => `user:${id}`,
  username: (username: string) => `username:${username}`,
  favorites: (userId: number) => `favs:${userId}`,
  follows: (userId: number) => `follows:${userId}`,
  comments: (articleId: number) => `comments:${articleId}`,
  tags: 'tags:all',
  lists: 'lists'
}

/** Every kind of key, for when nothing can be trusted (after a gap in change notifications). */
export const ALL_KINDS = ['article', 'slug', 'user', 'username', 'favs', 'follows', 'comments', 'tags']
