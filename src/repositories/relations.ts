import type { Queryable } from '../db/read-pool.js'
import { unprepared, type StatementOf } from '../db/statement.js'

export interface ViewerRelations {
  favorited: Set<number>
  following: Set<number>
}

const NONE: ViewerRelations = { favorited: new Set(), following: new Set() }

/** The per-viewer flags of a response (`favorited`, `following`), apart from the shared data. */
export function relationsRepository (read: Queryable, statement: StatementOf = unprepared) {
  const FOR_VIEWER = statement('relations.for-viewer', `SELECT
      ARRAY(SELECT article_id FROM favorites WHERE user_id = $1 AND article_id = ANY($2::int[])) AS favorited,
      ARRAY(SELECT followee_id FROM follows WHERE follower_id = $1 AND followee_id = ANY($3::int[])) AS following`)
  const FAVORITED_BY = statement('relations.favorited-by', `SELECT u.id, ARRAY(SELECT article_id FROM favorites WHERE user_id = u.id) AS ids
    FROM unnest($1::int[]) AS u(id)`)
  const FOLLOWED_BY = statement('relations.followed-by', `SELECT u.id, ARRAY(SELECT followee_id FROM follows WHERE follower_id = u.id) AS ids
    FROM unnest($1::int[]) AS u(id)`)

  return {
    async forViewer (viewerId: number | null, articleIds: number[], authorIds: number[]): Promise<ViewerRelations> {
      if (viewerId === null || (articleIds.length === 0 && authorIds.length === 0)) return NONE
      const { rows } = await read.query<{ favorited: number[], following: number[] }>(FOR_VIEWER, [viewerId, articleIds, authorIds])
      const row = rows[0] ?? { favorited: [], following: [] }
      return { favorited: new Set(row.favorited), following: new Set(row.following) }
    },

    /** Every article a user has favorited, and every user they follow: the cached per-user sets. */
    async favoritedBy (userIds: number[]): Promise<Map<number, number[]>> {
      const { rows } = await read.query<{ id: number, ids: number[] }>(FAVORITED_BY, [userIds])
      return new Map(rows.map(row => [row.id, row.ids]))
    },

    async followedBy (userIds: number[]): Promise<Map<number, number[]>> {
      const { rows } = await read.query<{ id: number, ids: number[] }>(FOLLOWED_BY, [userIds])
      return new Map(rows.map(row => [row.id, row.ids]))
    }
  }
}

export type RelationsRepository = ReturnType<typeof relationsRepository>
