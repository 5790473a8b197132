/** A random number in [0, 1), from a generator seeded explicitly so every run sees the same data. */
export type Random = () => number

/** mulberry32: tiny, fast, and good enough for test data (not for anything secret). */
export function mulberry32 (seed: number): Random {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** An integer in [min, max]. */
export function intBetween (random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}

export function pick<T> (random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T
}

/**
 * Ranks 0..n-1 drawn with P(rank k) proportional to 1 / (k + 1)^exponent: rank 0 is the hottest,
 * and a long tail of cold items still gets some traffic, as real popularity does.
 */
export function zipf (n: number, exponent: number, random: Random): () => number {
  if (n < 1) throw new Error('zipf needs at least one item')
  const cdf = new Float64Array(n)
  let sum = 0
  for (let k = 0; k < n; k++) {
    sum += 1 / Math.pow(k + 1, exponent)
    cdf[k] = sum
  }
  for (let k = 0; k < n; k++) cdf[k] = (cdf[k] as number) / sum
  return () => {
    const u = random()
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cdf[mid] as number) < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** A function that draws items from `items` (hottest first) with Zipf popularity. */
export function zipfPicker<T> (items: readonly T[], exponent: number, random: Random): () => T {
  const rank = zipf(items.length, exponent, random)
  return () => items[rank()] as T
}

/** Deterministic Fisher–Yates shuffle (a copy). */
export function shuffled<T> (items: readonly T[], random: Random): T[] {
  const out = items.slice()
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const tmp = out[i] as T
    out[i] = out[j] as T
    out[j] = tmp
  }
  return out
}

/** Picks one of `choices` with probability proportional to its weight. */
export function weighted<T> (choices: ReadonlyArray<readonly [T, number]>, random: Random): () => T {
  const total = choices.reduce((sum, [, w]) => sum + w, 0)
  return () => {
    let u = random() * total
    for (const [value, w] of choices) {
      u -= w
      if (u < 0) return value
    }
    return (choices[choices.length - 1] as readonly [T, number])[0]
  }
}
