/** The index a unique violation (SQLSTATE 23505) hit, if that is what the error is. */
export function uniqueViolation (err: unknown): string | undefined {
  const e = err as { code?: string, constraint?: string }
  return e.code === '23505' ? e.constraint : undefined
}
