import type { Pool } from 'pg'
import type { Queryable } from '../db/read-pool.js'
import { unprepared, type StatementOf } from '../db/statement.js'
import { EmailTaken, UsernameTaken } from '../errors.js'
import { recordValues, type IdempotencyRecord } from './idempotency.js'
import { uniqueViolation } from './unique-violation.js'

export interface UserRow {
  id: number
  username: string
  email: string
  bio: string
  image: string
}

export interface UserChanges {
  username?: string
  email?: string
  passwordHash?: string
  bio?: string
  image?: string
}

const COLUMNS = 'id, username, email, bio, image'

// The unique indexes decide, not a prior SELECT: two racing registrations cannot both win.
function rethrowTaken (err: unknown): never {
  const index = uniqueViolation(err)
  if (index === 'users_username_key') throw new UsernameTaken()
  if (index === 'users_email_key') throw new EmailTaken()
  throw err
}

export function usersRepository (pg: Pool, read: Queryable = pg, statement: StatementOf = unprepared) {
  const BY_ID = statement('users.by-id', `SELECT ${COLUMNS} FROM users WHERE id = $1`)
  const BY_IDS = statement('users.by-ids', `SELECT ${COLUMNS} FROM users WHERE id = ANY($1::int[])`)
  const IDS_BY_USERNAMES = statement('users.ids-by-usernames', 'SELECT id, username FROM users WHERE username = ANY($1::text[])')

  return {
    async findById (id: number): Promise<UserRow | undefined> {
      const { rows } = await read.query<UserRow>(BY_ID, [id])
      return rows[0]
    },

    async byIds (ids: number[]): Promise<Map<number, UserRow>> {
      const { rows } = await read.query<UserRow>(BY_IDS, [ids])
      return new Map(rows.map(row => [row.id, row]))
    },

    async idsByUsernames (usernames: string[]): Promise<Map<string, number>> {
      const { rows } = await read.query<{ id: number, username: string }>(IDS_BY_USERNAMES, [usernames])
      return new Map(rows.map(row => [row.username, row.id]))
    },

    // On the primary: a user registered a moment ago, through any instance, can log in.
    async findByEmailForLogin (email: string): Promise<(UserRow & { passwordHash: string }) | undefined> {
      const { rows } = await pg.query<UserRow & { passwordHash: string }>(
        `SELECT ${COLUMNS}, password_hash AS "passwordHash" FROM users WHERE lower(email) = lower($1)`,
        [email]
      )
      return rows[0]
    },

    /** Inserts a user and, in the same statement, its Idempotency-Key if there is one. */
    async create (user: { username: string, email: string, passwordHash: string }, key?: IdempotencyRecord): Promise<UserRow> {
      try {
        const { rows } = await pg.query<UserRow>(
          `WITH u AS (
             INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) RETURNING ${COLUMNS}
           ), k AS (
             INSERT INTO idempotency_keys (scope, key, fingerprint, resource_id)
             SELECT $4::text, $5::text, $6::text, id FROM u WHERE $4::text IS NOT NULL
           )
           SELECT ${COLUMNS} FROM u`,
          [user.username, user.email, user.passwordHash, ...recordValues(key)]
        )
        return rows[0] as UserRow
      } catch (err) {
        rethrowTaken(err)
      }
    },

    async update (id: number, changes: UserChanges): Promise<UserRow | undefined> {
      try {
        const { rows } = await pg.query<UserRow>(
          `UPDATE users SET
             username = COALESCE($2, username),
             email = COALESCE($3, email),
             password_hash = COALESCE($4, password_hash),
             bio = COALESCE($5, bio),
             image = COALESCE($6, image),
             updated_at = now()
           WHERE id = $1
           RETURNING ${COLUMNS}`,
          [id, changes.username, changes.email, changes.passwordHash, changes.bio, changes.image]
        )
        return rows[0]
      } catch (err) {
        rethrowTaken(err)
      }
    }
  }
}

export type UsersRepository = ReturnType<typeof usersRepository>
