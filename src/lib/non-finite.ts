// JSON.parse("1e999") and Number("Infinity") give numbers that are not finite; no input may carry one.

/** The JSON pointer of the first non-finite number in `value`, if there is one. */
export function nonFinitePath (value: unknown, path = ''): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path
  if (typeof value !== 'object' || value === null) return undefined
  for (const [key, item] of Object.entries(value)) {
    const found = nonFinitePath(item, `${path}/${key}`)
    if (found !== undefined) return found
  }
  return undefined
}
