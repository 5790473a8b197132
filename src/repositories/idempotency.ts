import type { Pool } from 'pg'

/** An Idempotency-Key to record with the row a create inserts (whose id it is stored with). */
export interface IdempotencyRecord {
  /** whose key it is: 'user:<id>', or 'email:<address>' for a registration */
  scope: string
  key: string
  /** of the route and the request's fields */
  fingerprint: string
}

export interface StoredIdempotencyKey {
  fingerprint: string
  resourceId: number
}

/**
 * The three parameters, in this order, of the `INSERT INTO idempotency_keys` that a create runs
 * in the same statement as its own INSERT; all null (nothing inserted) without a key.
 */
export function recordValues (record: IdempotencyRecord | undefined): unknown[] {
  return [record?.scope ?? null, record?.key ?? null, record?.fingerprint ?? null]
}

export function idempotencyRepository (pg: Pool) {
  return {
    async find (scope: string, key: string): Promise<StoredIdempotencyKey | undefined> {
      const { rows } = await pg.query<StoredIdempotencyKey>(
        `SELECT fingerprint, resource_id AS "resourceId" FROM idempotency_keys
         WHERE scope = $1 AND key = $2`,
        [scope, key]
      )
      return rows[0]
    },

    /** Deletes the keys older than `hours`; returns how many. */
    async prune (hours: number): Promise<number> {
      const { rowCount } = await pg.query(
        'DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)', [hours])
      return rowCount ?? 0
    }
  }
}

export type IdempotencyRepository = ReturnType<typeof idempotencyRepository>
