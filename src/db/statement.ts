// Named (prepared) statements for the hot reads, or plain text where they cannot be used. pg
// prepares a query that has a name once per connection, then sends only its parameters: no
// parsing and no planning per read (the slug lookup planned for 0.23 ms to run for 0.07). A
// transaction-pooling PgBouncer before 1.21 hands each statement to any server connection, where
// the statement was never prepared: PG_PREPARED_STATEMENTS=off sends every query as text.
import type { QueryConfig } from 'pg'

/** What the repositories send: SQL text, or a named statement. */
export type Statement = string | QueryConfig

/** A statement of this SQL under this name, or the bare text when statements are not prepared. */
export type StatementOf = (name: string, text: string) => Statement

/**
 * One per set of repositories. A name is one SQL text (pg refuses a name used for two texts on one
 * connection, at the first read that does): a second text under a known name throws when defined.
 */
export function statements (prepared: boolean): StatementOf {
  const texts = new Map<string, string>()
  return (name, text) => {
    const known = texts.get(name)
    if (known === undefined) texts.set(name, text)
    else if (known !== text) throw new Error(`statement "${name}" is already defined with another SQL text`)
    return prepared ? { name, text } : text
  }
}

/** Plain text, for repositories made without the setting (tests, scripts). */
export const unprepared: StatementOf = (_name, text) => text
