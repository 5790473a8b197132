/**
 * The in-process tier: a bounded LRU of ready-to-use values, capped by entry count and by bytes,
 * with an index from references (`article:12`, `user:3`) to the entries built from them, so an
 * invalidation evicts exactly what depended on the changed row.
 */
export interface HotTierOptions {
  maxEntries: number
  maxBytes: number
}

interface Entry {
  value: unknown
  bytes: number
  refs: readonly string[]
  expiresAt: number
  /** `stored` when it was last moved to the back */
  movedAt: number
}

export function createHotTier ({ maxEntries, maxBytes }: HotTierOptions) {
  // Map iteration order is insertion order: re-inserting on a hit keeps the LRU at the front.
  // Re-inserting on every hit made the hottest entries churn the Map (deleted slots pile up at
  // its front, and each eviction scan walks them): a hit moves an entry only once others stored
  // since its last move could push it out soon, a quarter of the capacity.
  const entries = new Map<string, Entry>()
  const byRef = new Map<string, Set<string>>()
  const moveAfter = Math.max(1, Math.floor(maxEntries / 4))
  let bytes = 0
  let stored = 0 // entries set so far

  function remove (key: string): void {
    const entry = entries.get(key)
    if (entry === undefined) return
    entries.delete(key)
    bytes -= entry.bytes
    for (const ref of entry.refs) {
      const keys = byRef.get(ref)
      keys?.delete(key)
      if (keys?.size === 0) byRef.delete(ref)
    }
  }

  /** The value and the references it was stored with, unless absent or expired. */
  function lookup (key: string, now = Date.now()): { value: unknown, refs: readonly string[] } | undefined {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now) {
      remove(key)
      return undefined
    }
    if (stored - entry.movedAt >= moveAfter) {
      entry.movedAt = stored
      entries.delete(key)
      entries.set(key, entry)
    }
    return entry
  }

  return {
    lookup,

    get: (key: string, now = Date.now()): unknown => lookup(key, now)?.value,

    set (key: string, value: unknown, size: number, refs: readonly string[], ttlMs: number): void {
      if (size > maxBytes) return
      remove(key)
      entries.set(key, { value, bytes: size, refs, expiresAt: Date.now() + ttlMs, movedAt: ++stored })
      bytes += size
      for (const ref of refs) {
        let keys = byRef.get(ref)
        if (keys === undefined) byRef.set(ref, keys = new Set())
        keys.add(key)
      }
      for (const oldest of entries.keys()) {
        if (entries.size <= maxEntries && bytes <= maxBytes) break
        remove(oldest)
      }
    },

    /** Evicts every entry built from any of these references; returns how many. */
    invalidate (refs: Iterable<string>): number {
      let evicted = 0
      for (const ref of refs) {
        for (const key of byRef.get(ref) ?? []) {
          remove(key)
          evicted++
        }
      }
      return evicted
    },

    clear (): void {
      entries.clear()
      byRef.clear()
      bytes = 0
    },

    stats: () => ({ entries: entries.size, bytes })
  }
}

export type HotTier = ReturnType<typeof createHotTier>
