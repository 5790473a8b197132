import type { Static } from 'typebox'
import type { ArticleRow } from '../repositories/articles.js'
import type { CommentRow } from '../repositories/comments.js'
import type { ViewerRelations } from '../repositories/relations.js'
import type { Article } from '../schemas/article.js'
import type { Comment } from '../schemas/comment.js'
import type { Profile } from '../schemas/profile.js'

// Rows are viewer-independent; these add the viewer's flags and give the API's field names.

interface AuthorFields { username: string, bio: string, image: string }

export function toProfile (row: AuthorFields, following: boolean): Static<typeof Profile> {
  return { username: row.username, bio: row.bio, image: row.image, following }
}

export function toArticle (row: ArticleRow, viewer: ViewerRelations): Static<typeof Article> {
  return {
    slug: row.slug,
    title: row.title,
    description: row.description,
    body: row.body ?? '',
    tagList: row.tagList,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    favorited: viewer.favorited.has(row.id),
    favoritesCount: row.favoritesCount,
    author: toProfile(row, viewer.following.has(row.authorId))
  }
}

export function toComment (row: CommentRow, viewer: ViewerRelations): Static<typeof Comment> {
  return {
    id: row.id,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    body: row.body,
    author: toProfile(row, viewer.following.has(row.authorId))
  }
}
