import type { Pool } from 'pg'
import type { Queryable } from '../db/read-pool.js'
import { unprepared, type StatementOf } from '../db/statement.js'
import { recordValues, type IdempotencyRecord } from './idempotency.js'

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

export type CommentCore = Omit<CommentRow, 'username' | 'bio' | 'image'>

export function commentsRepository (pg: Pool, read: Queryable = pg, statement: StatementOf = unprepared) {
  const BY_ARTICLE = statement('comments.by-article', `SELECT ${COLUMNS} FROM comments c JOIN users u ON u.id = c.author_id
    WHERE c.article_id = $1 ORDER BY c.created_at DESC, c.id DESC`)
  const CORE_BY_ARTICLES = statement('comments.core-by-articles', `SELECT c.id, c.article_id AS "articleId", c.author_id AS "authorId", c.body,
      c.created_at AS "createdAt", c.updated_at AS "updatedAt"
    FROM comments c WHERE c.article_id = ANY($1::int[]) ORDER BY c.created_at DESC, c.id DESC`)

  return {
    async listByArticle (articleId: number): Promise<CommentRow[]> {
      const { rows } = await read.query<CommentRow>(BY_ARTICLE, [articleId])
      return rows
    },

    async coreByArticles (articleIds: number[]): Promise<Map<number, CommentCore[]>> {
      const { rows } = await read.query<CommentCore>(CORE_BY_ARTICLES, [articleIds])
      const byArticle = new Map<number, CommentCore[]>(articleIds.map(id => [id, []]))
      for (const row of rows) byArticle.get(row.articleId)?.push(row)
      return byArticle
    },

    /** Inserts a comment and, in the same statement, its Idempotency-Key if there is one. */
    async create (articleId: number, authorId: number, body: string, key?: IdempotencyRecord): Promise<CommentRow> {
      const { rows } = await pg.query<CommentRow>(
        `WITH c AS (
           INSERT INTO comments (article_id, author_id, body) VALUES ($1, $2, $3) RETURNING *
         ), k AS (
           INSERT INTO idempotency_keys (scope, key, fingerprint, resource_id)
           SELECT $4::text, $5::text, $6::text, id FROM c WHERE $4::text IS NOT NULL
         )
         SELECT ${COLUMNS} FROM c JOIN users u ON u.id = c.author_id`,
        [articleId, authorId, body, ...recordValues(key)]
      )
      return rows[0] as CommentRow
    },

    async findById (id: number): Promise<CommentRow | undefined> {
      const { rows } = await read.query<CommentRow>(
        `SELECT ${COLUMNS} FROM comments c JOIN users u ON u.id = c.author_id WHERE c.id = $1`, [id])
      return rows[0]
    },

    /** The comment, only if it belongs to that article. */
    async findInArticle (articleId: number, id: number): Promise<{ id: number, authorId: number } | undefined> {
      const { rows } = await read.query<{ id: number, authorId: number }>(
        'SELECT id, author_id AS "authorId" FROM comments WHERE id = $1 AND article_id = $2',
        [id, articleId]
      )
      return rows[0]
    },

    /** Deletes a comment; returns the article it was on (undefined if it was already gone). */
    async remove (id: number): Promise<number | undefined> {
      const { rows } = await pg.query<{ articleId: number }>(
        'DELETE FROM comments WHERE id = $1 RETURNING article_id AS "articleId"', [id]
      )
      return rows[0]?.articleId
    }
  }
}

export type CommentsRepository = ReturnType<typeof commentsRepository>
