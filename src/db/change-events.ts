/**
 * Change notifications sent by the triggers of migrations/002_change_notifications.sql: one per
 * statement on a Conduit table, on channel `gravity_changes`, delivered at commit.
 *
 * Payloads name the key columns of the rows the statement changed (old and new values on UPDATE),
 * as sorted arrays without duplicates:
 *
 *   {"t":"users","op":"UPDATE","ids":[3],"usernames":["jake","jake2"]}
 *   {"t":"articles","op":"DELETE","ids":[7],"slugs":["hello-1a2b3c"],"authors":[3]}
 *   {"t":"tags","op":"INSERT","ids":[4],"names":["redis"]}
 *   {"t":"article_tags","op":"INSERT","articles":[7],"tags":[4]}
 *   {"t":"favorites","op":"INSERT","articles":[7],"users":[5]}
 *   {"t":"follows","op":"DELETE","followers":[5],"followees":[3]}
 *   {"t":"comments","op":"INSERT","ids":[9],"articles":[7],"authors":[5]}
 *
 * Past 200 rows, past the NOTIFY size limit, and on TRUNCATE, rows are not named:
 *
 *   {"t":"articles","op":"UPDATE","all":true}   (every row of the table may have changed)
 *
 * Since migration 005 each payload also has "at": when its statement began, in epoch ms; since 006,
 * "lsn": the primary's WAL insert position at the transaction's first change (before its commit),
 * and "async":true when the writer's synchronous_commit was off.
 */

import { isLsn } from './lsn.js'

export const CHANGE_CHANNEL = 'gravity_changes'

export type ChangeOp = 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE'

// Payload arrays per table, and whether they hold ids (integers) or text keys.
const FIELDS = {
  users: { ids: 'int', usernames: 'text' },
  articles: { ids: 'int', slugs: 'text', authors: 'int' },
  tags: { ids: 'int', names: 'text' },
  article_tags: { articles: 'int', tags: 'int' },
  favorites: { articles: 'int', users: 'int' },
  follows: { followers: 'int', followees: 'int' },
  comments: { ids: 'int', articles: 'int', authors: 'int' }
} as const satisfies Record<string, Record<string, 'int' | 'text'>>

export type ChangeTable = keyof typeof FIELDS

export const CHANGE_TABLES = Object.keys(FIELDS) as ChangeTable[]
const OPS: readonly string[] = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'] satisfies ChangeOp[]

interface Timed {
  /** When the statement that made the change began (epoch ms, the database's clock), if sent */
  at?: number
  /** The WAL insert position at the transaction's first change, if sent: at or before its commit, never after. */
  lsn?: string
  /** The writer's synchronous_commit was off: its commit may not be flushed when this is delivered. */
  async?: true
}

interface RowsChange<T extends ChangeTable> extends Timed {
  table: T
  op: ChangeOp
  /** false: the arrays name every changed row */
  all: false
}

/** Users changed; `usernames` holds old and new names on a rename. */
export interface UsersChange extends RowsChange<'users'> { ids: number[], usernames: string[] }
/** Articles changed; `slugs` and `authors` hold old and new values on UPDATE. */
export interface ArticlesChange extends RowsChange<'articles'> { ids: number[], slugs: string[], authors: number[] }
export interface TagsChange extends RowsChange<'tags'> { ids: number[], names: string[] }
/** Tags added to or removed from articles (article ids, tag ids). */
export interface ArticleTagsChange extends RowsChange<'article_tags'> { articles: number[], tags: number[] }
/** Favorites added or removed (article ids, user ids). */
export interface FavoritesChange extends RowsChange<'favorites'> { articles: number[], users: number[] }
/** Follows added or removed (follower and followee user ids). */
export interface FollowsChange extends RowsChange<'follows'> { followers: number[], followees: number[] }
/** Comments changed (comment ids, their article ids and author ids). */
export interface CommentsChange extends RowsChange<'comments'> { ids: number[], articles: number[], authors: number[] }

/** Too many rows to name, or TRUNCATE: treat every row of `table` as changed. */
export interface TableChanged extends Timed {
  table: ChangeTable
  op: ChangeOp
  all: true
}

export type ChangeEvent =
  | UsersChange | ArticlesChange | TagsChange | ArticleTagsChange
  | FavoritesChange | FollowsChange | CommentsChange | TableChanged

function isTable (value: unknown): value is ChangeTable {
  return typeof value === 'string' && Object.hasOwn(FIELDS, value)
}

/**
 * Parses a notification payload. Throws on anything that is not a payload of a known table with
 * every array it should have; members it does not know are ignored, for newer triggers.
 */
export function parseChangeEvent (payload: string): ChangeEvent {
  let data: unknown
  try {
    data = JSON.parse(payload)
  } catch {
    throw new Error('change payload is not JSON')
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error('change payload is not an object')
  const record = data as Record<string, unknown>
  const { t: table, op } = record
  if (!isTable(table)) throw new Error(`unknown table in change payload: ${String(table)}`)
  if (typeof op !== 'string' || !OPS.includes(op)) throw new Error(`unknown op in change payload: ${String(op)}`)
  const meta = {
    ...(Number.isSafeInteger(record.at) ? { at: record.at as number } : {}),
    ...(isLsn(record.lsn) ? { lsn: record.lsn } : {}),
    ...(record.async === true ? { async: true as const } : {})
  }
  if (record.all === true) return { table, op: op as ChangeOp, all: true, ...meta }
  if (record.all !== undefined && record.all !== false) throw new Error('invalid "all" in change payload')

  const event: Record<string, unknown> = { table, op, all: false, ...meta }
  for (const [field, kind] of Object.entries(FIELDS[table])) {
    const values = record[field]
    const valid = Array.isArray(values) && values.every(kind === 'int'
      ? (v: unknown) => Number.isSafeInteger(v)
      : (v: unknown) => typeof v === 'string')
    if (!valid) throw new Error(`"${field}" of a ${table} change must be an array of ${kind === 'int' ? 'integers' : 'strings'}`)
    event[field] = values
  }
  return event as unknown as ChangeEvent
}
