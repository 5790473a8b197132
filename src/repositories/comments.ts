import type { Pool } from 'pg'

export interface CommentRow {
  id: number
  articleId: number
  authorId: number
  body: string
  createdAt: Date
  updatedAt: Date
  username: string
  bio: string
  image: string
}

const COLUMNS = `c.id, c.article_id AS "articleId", c.author_id AS "authorId", c.body,
  c.created_at AS "createdAt", c.updated_at AS "updatedAt", u.username, u.bio, u.image`

export function commentsRepository (pg: Pool) {
  return {
    async listByArticle (articleId: number): Promise<CommentRow[]> {
      const { rows } = await pg.query<CommentRow>(
        `SELECT ${COLUMNS} FROM comments c JOIN users u ON u.id = c.author_id
         WHERE c.article_id = $1 ORDER BY c.created_at DESC, c.id DESC`,
        [articleId]
      )
      return rows
    },

    async create (articleId: number, authorId: number, body: string): Promise<CommentRow> {
      const { rows } = await pg.query<CommentRow>(
        `WITH c AS (
           INSERT INTO comments (article_id, author_id, body) VALUES ($1, $2, $3) RETURNING *
         )
         SELECT ${COLUMNS} FROM c JOIN users u ON u.id = c.author_id`,
        [articleId, authorId, body]
      )
      return rows[0] as CommentRow
    },

    /** The comment, only if it belongs to that article. */
    async findInArticle (articleId: number, id: number): Promise<{ id: number, authorId: number } | undefined> {
      const { rows } = await pg.query<{ id: number, authorId: number }>(
        'SELECT id, author_id AS "authorId" FROM comments WHERE id = $1 AND article_id = $2',
        [id, articleId]
      )
      return rows[0]
    },

    async remove (id: number): Promise<void> {
      await pg.query('DELETE FROM comments WHERE id = $1', [id])
    }
  }
}

export type CommentsRepository = ReturnType<typeof commentsRepository>
