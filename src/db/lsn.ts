// WAL positions (LSNs) as PostgreSQL prints them ('16/B374D848') and as numbers to compare.

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

export function isLsn (text: unknown): text is string {
  return typeof text === 'string' && LSN.test(text)
}

export function parseLsn (text: string): bigint {
  const match = LSN.exec(text)
  if (match === null) throw new Error(`not a WAL position: ${text}`)
  return (BigInt(`0x${match[1] as string}`) << 32n) | BigInt(`0x${match[2] as string}`)
}

export function formatLsn (lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xFFFFFFFFn).toString(16).toUpperCase()}`
}

// The longest WAL page header (the first page of a segment's), in bytes.
const LONG_PAGE_HEADER = 40n

/**
 * pg_current_wal_insert_lsn() as the end of the last record inserted, which is what a replica's
 * pg_last_wal_replay_lsn() says once it has replayed that record. They differ when that record
 * ended exactly at a page boundary: the insert position then points past the next page's header,
 * where no record ends, and a replica that has replayed everything would seem behind until more
 * WAL is written. Up to 40 bytes past a boundary (the longest page header) the last record ended
 * either at the boundary or, having crossed it, at that position (records are at least 24 bytes
 * and none begins in a header): no record ends in between, so asking for the boundary is the same.
 */
export function recordEnd (insertLsn: bigint, walBlockSize: number): bigint {
  const offset = insertLsn % BigInt(walBlockSize)
  return offset > 0n && offset <= LONG_PAGE_HEADER ? insertLsn - offset : insertLsn
}
