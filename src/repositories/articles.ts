import type { Pool, PoolClient } from 'pg'
import type { Queryable } from '../db/read-pool.js'
import { unprepared, type StatementOf } from '../db/statement.js'
import { connectionFailure } from '../errors.js'
import { recordValues, type IdempotencyRecord } from './idempotency.js'
import type { ViewerRelations } from './relations.js'

export interface ArticleRow {
  id: number
  slug: string
  title: string
  description: string
  body?: string
  tagList: string[]
  createdAt: Date
  updatedAt: Date
  favoritesCount: number
  authorId: number
  username: string
  bio: string
  image: string
}

/** An article with its viewer's flags, when they were read with it. */
export type ViewedArticleRow = ArticleRow & { viewer?: ViewerRelations }

/** An article without its author's profile fields: what the cache keeps per article. */
export type ArticleCore = Omit<ArticleRow, 'username' | 'bio' | 'image'> & { body: string }

export interface ArticleFilter {
  tag?: string
  author?: string
  favorited?: string
  /** the feed: articles by authors this user follows */
  followedBy?: number
}

/** A filter with its names resolved: tag id, author's and favoriting user's ids. */
export type ArticleIdFilter = { [K in keyof ArticleFilter]?: number }

export interface NewArticle {
  slug: string
  title: string
  description: string
  body: string
  tagList: string[]
}

export type ArticleChanges = Partial<NewArticle>

const SHARED_COLUMNS = `a.id, a.slug, a.title, a.description,
  a.created_at AS "createdAt", a.updated_at AS "updatedAt",
  a.author_id AS "authorId", u.username, u.bio, u.image,
  (SELECT count(*)::int FROM favorites f WHERE f.article_id = a.id) AS "favoritesCount",
  ARRAY(SELECT t.name FROM article_tags at JOIN tags t ON t.id = at.tag_id
        WHERE at.article_id = a.id ORDER BY t.name COLLATE "C") AS "tagList"`

// One condition per filter, each written so PostgreSQL can use an index for it: an EXISTS probe
// on a primary key rather than an IN over a join (which made the hot tag 45 ms instead of 1).
// `id` is the SQL of the filter's id: a parameter, or a lookup of the name.
const CONDITIONS: Record<keyof ArticleFilter, (id: string) => string> = {
  tag: id => `EXISTS (SELECT 1 FROM article_tags at WHERE at.article_id = a.id AND at.tag_id = ${id})`,
  author: id => `a.author_id = ${id}`,
  favorited: id => `EXISTS (SELECT 1 FROM favorites f WHERE f.article_id = a.id AND f.user_id = ${id})`,
  followedBy: id => `a.author_id IN (SELECT followee_id FROM follows WHERE follower_id = ${id})`
}

const BY_NAME: Record<keyof ArticleFilter, (param: string) => string> = {
  tag: param => `(SELECT id FROM tags WHERE name = ${param})`,
  author: param => `(SELECT id FROM users WHERE username = ${param})`,
  favorited: param => `(SELECT id FROM users WHERE username = ${param})`,
  followedBy: param => param
}

/**
 * The WHERE clause of the filters in use, its parameters numbered from `first` (default $3, after
 * limit and offset), and which filters those are (the SQL differs by them alone: a statement's name).
 */
function where (filter: ArticleFilter | ArticleIdFilter, byName: boolean, first = 3): { sql: string, values: unknown[], used: string } {
  const used = (Object.keys(CONDITIONS) as Array<keyof ArticleFilter>).filter(name => filter[name] !== undefined)
  if (used.length === 0) return { sql: 'TRUE', values: [], used: 'all' }
  return {
    sql: used.map((name, i) => CONDITIONS[name](byName ? BY_NAME[name](`$${i + first}`) : `$${i + first}`)).join(' AND '),
    values: used.map(name => filter[name]),
    used: used.join('+')
  }
}

/** Replaces an article's tags; returns the ids of the tags it lost or gained. */
async function replaceTags (client: PoolClient, articleId: number, tagList: string[]): Promise<number[]> {
  const removed = await client.query<{ tag_id: number }>('DELETE FROM article_tags WHERE article_id = $1 RETURNING tag_id', [articleId])
  if (tagList.length === 0) return removed.rows.map(row => row.tag_id)
  await client.query('INSERT INTO tags (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING', [tagList])
  const added = await client.query<{ tag_id: number }>(
    'INSERT INTO article_tags (article_id, tag_id) SELECT $1, id FROM tags WHERE name = ANY($2::text[]) RETURNING tag_id',
    [articleId, tagList]
  )
  return [...new Set([...removed.rows, ...added.rows].map(row => row.tag_id))]
}

export function articlesRepository (pg: Pool, read: Queryable = pg, statement: StatementOf = unprepared) {
  const FROM = 'FROM articles a JOIN users u ON u.id = a.author_id'
  const LIST_ITEMS = statement('articles.list-items', `SELECT ${SHARED_COLUMNS} ${FROM} WHERE a.id = ANY($1::int[])`)
  const BY_SLUG = statement('articles.by-slug', `SELECT ${SHARED_COLUMNS}, a.body ${FROM} WHERE a.slug = $1`)
  // The viewer's flags in the same statement: a signed-in article read is one round trip too.
  const BY_SLUG_VIEWED = statement('articles.by-slug-viewed', `SELECT ${SHARED_COLUMNS}, a.body,
      EXISTS (SELECT 1 FROM favorites f WHERE f.user_id = $2 AND f.article_id = a.id) AS "viewerFavorited",
      EXISTS (SELECT 1 FROM follows fo WHERE fo.follower_id = $2 AND fo.followee_id = a.author_id) AS "viewerFollowing"
    ${FROM} WHERE a.slug = $1`)
  const CORE_BY_IDS = statement('articles.core-by-ids', `SELECT a.id, a.slug, a.title, a.description, a.body,
      a.created_at AS "createdAt", a.updated_at AS "updatedAt", a.author_id AS "authorId",
      (SELECT count(*)::int FROM favorites f WHERE f.article_id = a.id) AS "favoritesCount",
      ARRAY(SELECT t.name FROM article_tags at JOIN tags t ON t.id = at.tag_id
            WHERE at.article_id = a.id ORDER BY t.name COLLATE "C") AS "tagList"
    FROM articles a WHERE a.id = ANY($1::int[])`)
  const BY_SLUGS = statement('articles.by-slugs', `SELECT ${SHARED_COLUMNS}, a.body, u.email ${FROM} WHERE a.slug = ANY($1::text[])`)

  async function transaction<T> (work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await pg.connect()
    // An error passed to release() drops the connection instead of pooling it again.
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      // A connection past its deadline or lost is dropped (the server rolls back when it goes):
      // a ROLLBACK on it would only wait out another deadline.
      if (connectionFailure(err as Error)) broken = err as Error
      else broken = await client.query('ROLLBACK').then(() => undefined, (rollback: Error) => rollback)
      throw err
    } finally {
      client.release(broken)
    }
  }

  async function page (conditions: { sql: string, values: unknown[], used: string }, limit: number, offset: number) {
    const sql = statement(`articles.list-page:${conditions.used}`,
      `SELECT (SELECT count(*)::int FROM articles a WHERE ${conditions.sql}) AS total,
              ARRAY(SELECT a.id FROM articles a WHERE ${conditions.sql}
                    ORDER BY a.created_at DESC, a.id DESC LIMIT $1 OFFSET $2) AS ids`)
    const { rows } = await read.query<{ ids: number[], total: number }>(sql, [limit, offset, ...conditions.values])
    return rows[0] ?? { ids: [], total: 0 }
  }

  return {
    /** One page of a list: its ids, newest first, and how many match in all. */
    listPage: (filter: ArticleFilter, limit: number, offset: number) => page(where(filter, true), limit, offset),

    /** The ids of one page (filter names resolved to ids), newest first: listPage without the count. */
    async pageIds (filter: ArticleIdFilter, limit: number, offset: number): Promise<number[]> {
      const conditions = where(filter, false)
      const sql = statement(`articles.page-ids:${conditions.used}`,
        `SELECT a.id FROM articles a WHERE ${conditions.sql} ORDER BY a.created_at DESC, a.id DESC LIMIT $1 OFFSET $2`)
      const { rows } = await read.query<{ id: number }>(sql, [limit, offset, ...conditions.values])
      return rows.map(row => row.id)
    },

    /** How many articles match (filter names resolved to ids). */
    async count (filter: ArticleIdFilter): Promise<number> {
      const conditions = where(filter, false, 1)
      const sql = statement(`articles.count:${conditions.used}`, `SELECT count(*)::int AS total FROM articles a WHERE ${conditions.sql}`)
      const { rows } = await read.query<{ total: number }>(sql, conditions.values)
      return rows[0]?.total ?? 0
    },

    /** List items (no body), in the order of `ids`. */
    async findListItems (ids: number[]): Promise<ArticleRow[]> {
      if (ids.length === 0) return []
      const { rows } = await read.query<ArticleRow>(LIST_ITEMS, [ids])
      const byId = new Map(rows.map(row => [row.id, row]))
      return ids.flatMap(id => byId.get(id) ?? [])
    },

    /** With a viewer, the viewer's flags come with the article (`viewer`); a cached read may leave them to relations.forViewer. */
    async findBySlug (slug: string, viewerId: number | null = null): Promise<ViewedArticleRow | undefined> {
      if (viewerId === null) return (await read.query<ArticleRow>(BY_SLUG, [slug])).rows[0]
      const { rows } = await read.query<ArticleRow & { viewerFavorited?: boolean, viewerFollowing?: boolean }>(BY_SLUG_VIEWED, [slug, viewerId])
      const row = rows[0]
      if (row === undefined) return undefined
      const { viewerFavorited, viewerFollowing, ...article } = row
      const viewer = { favorited: new Set(viewerFavorited === true ? [row.id] : []), following: new Set(viewerFollowing === true ? [row.authorId] : []) }
      return { ...article, viewer }
    },

    async coreByIds (ids: number[]): Promise<Map<number, ArticleCore>> {
      const { rows } = await read.query<ArticleCore>(CORE_BY_IDS, [ids])
      return new Map(rows.map(row => [row.id, row]))
    },

    /** Full articles by slug, with their authors' user rows: one query for a cold article page. */
    async bySlugs (slugs: string[]): Promise<ArticleRow[]> {
      const { rows } = await read.query<ArticleRow>(BY_SLUGS, [slugs])
      return rows
    },

    /** Inserts an article with its tags and its Idempotency-Key if any; returns its id and its tags' ids. */
    async create (authorId: number, article: NewArticle, key?: IdempotencyRecord): Promise<{ id: number, tagIds: number[] }> {
      return await transaction(async client => {
        const { rows } = await client.query<{ id: number }>(
          `WITH a AS (
             INSERT INTO articles (slug, title, description, body, author_id)
             VALUES ($1, $2, $3, $4, $5) RETURNING id
           ), k AS (
             INSERT INTO idempotency_keys (scope, key, fingerprint, resource_id)
             SELECT $6::text, $7::text, $8::text, id FROM a WHERE $6::text IS NOT NULL
           )
           SELECT id FROM a`,
          [article.slug, article.title, article.description, article.body, authorId, ...recordValues(key)]
        )
        const id = (rows[0] as { id: number }).id
        return { id, tagIds: await replaceTags(client, id, article.tagList) }
      })
    },

    async update (id: number, changes: ArticleChanges): Promise<void> {
      await transaction(async client => {
        await client.query(
          `UPDATE articles SET
             slug = COALESCE($2, slug),
             title = COALESCE($3, title),
             description = COALESCE($4, description),
             body = COALESCE($5, body),
             updated_at = now()
           WHERE id = $1`,
          [id, changes.slug, changes.title, changes.description, changes.body]
        )
        if (changes.tagList !== undefined) await replaceTags(client, id, changes.tagList)
      })
    },

    async remove (id: number): Promise<void> {
      await pg.query('DELETE FROM articles WHERE id = $1', [id])
    },

    // Idempotent and race-free: the primary key makes 20 parallel favorites count once each.
    async favorite (userId: number, articleId: number): Promise<void> {
      await pg.query(
        'INSERT INTO favorites (user_id, article_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [userId, articleId]
      )
    },

    async unfavorite (userId: number, articleId: number): Promise<void> {
      await pg.query('DELETE FROM favorites WHERE user_id = $1 AND article_id = $2', [userId, articleId])
    }
  }
}

export type ArticlesRepository = ReturnType<typeof articlesRepository>
