import type { Pool } from 'pg'
import type { Queryable } from '../db/read-pool.js'
import { unprepared, type StatementOf } from '../db/statement.js'

export interface ProfileRow {
  id: number
  username: string
  bio: string
  image: string
}

export function profilesRepository (pg: Pool, read: Queryable = pg, statement: StatementOf = unprepared) {
  const BY_USERNAME = statement('profiles.by-username', 'SELECT id, username, bio, image FROM users WHERE username = $1')

  return {
    async findByUsername (username: string): Promise<ProfileRow | undefined> {
      const { rows } = await read.query<ProfileRow>(BY_USERNAME, [username])
      return rows[0]
    },

    // Idempotent: following twice, or unfollowing someone not followed, is not an error.
    async follow (followerId: number, followeeId: number): Promise<void> {
      await pg.query(
        'INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [followerId, followeeId]
      )
    },

    async unfollow (followerId: number, followeeId: number): Promise<void> {
      await pg.query('DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2', [followerId, followeeId])
    }
  }
}

export type ProfilesRepository = ReturnType<typeof profilesRepository>
