import { Redis } from 'ioredis'

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'

/**
 * Only prefixes the bench itself makes (`bench_<timestamp>_<pid>`): the Redis is shared, so a
 * typo must not reach anyone else's keys. The service writes `<prefix>:v<n>:<key>`, so the
 * pattern `<prefix>:*` cannot match another run's prefix either (the colon ends it).
 */
function assertBenchPrefix (prefix: string): void {
  if (!/^bench_[a-z0-9_]+$/.test(prefix)) throw new Error(`refusing to touch Redis prefix ${prefix}: not a bench_* prefix`)
}

async function withRedis<T> (url: string, work: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 1, retryStrategy: () => null })
  client.on('error', () => {}) // reported through the command that fails
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.quit().catch(() => client.disconnect())
  }
}

/** Throws with a readable message when Redis does not answer PING. */
export async function checkRedis (url: string): Promise<void> {
  try {
    await withRedis(url, client => client.ping())
  } catch (err) {
    throw new Error(`Redis at ${url} does not answer (${(err as Error).message}): set BENCH_REDIS_URL, or BENCH_REDIS_URL=none for an in-process cache only`)
  }
}

async function scanPrefix (client: Redis, prefix: string, each: (keys: string[]) => Promise<unknown>): Promise<number> {
  assertBenchPrefix(prefix)
  let cursor = '0'
  let count = 0
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
    if (keys.length > 0) {
      count += keys.length
      await each(keys)
    }
    cursor = next
  } while (cursor !== '0')
  return count
}

/** How many keys the service wrote under `prefix` (values and generation counters). */
export async function countPrefix (url: string, prefix: string): Promise<number> {
  return withRedis(url, client => scanPrefix(client, prefix, async () => {}))
}

/** SCAN + UNLINK of `<prefix>:*` only (never FLUSHDB: the Redis is shared); returns how many. */
export async function deletePrefix (url: string, prefix: string): Promise<number> {
  return withRedis(url, client => scanPrefix(client, prefix, keys => client.unlink(...keys)))
}
