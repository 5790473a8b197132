import type pg from 'pg'
import { generate, type Counts } from './dataset.js'
import { migrateDatabase, withClient } from './db.js'

export interface SeedOptions {
  scale: number
  force: boolean
  log?: (line: string) => void
}

export interface SeedResult {
  counts: Counts
  generateMs: number
  loadMs: number
  analyzeMs: number
  totalMs: number
}

const TABLES = ['comments', 'favorites', 'follows', 'article_tags', 'tags', 'articles', 'users']

/**
 * One INSERT … SELECT FROM unnest(…) per batch: the columns travel as arrays and PostgreSQL
 * builds the rows. `constants` follow the column parameters ($n+1…) and are the same in every batch.
 */
async function insertBatches (client: pg.Client, sql: string, columns: unknown[][], batchSize: number, constants: unknown[] = []): Promise<void> {
  const length = columns[0]?.length ?? 0
  for (let start = 0; start < length; start += batchSize) {
    const end = Math.min(length, start + batchSize)
    await client.query(sql, [...columns.map(column => column.slice(start, end)), ...constants])
  }
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

/** Migrates, then loads the data set of `scale` into an empty database (or truncates it with force). */
export async function seedDatabase (url: string, opts: SeedOptions): Promise<SeedResult> {
  const log = opts.log ?? (() => {})
  const started = performance.now()
  await migrateDatabase(url)

  return withClient(url, async client => {
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM (SELECT 1 FROM users LIMIT 1) u')
    const truncate = (rows[0]?.n ?? 0) > 0
    if (truncate && !opts.force) throw new Error('the users table already has rows: pass --force to truncate and reseed')

    const t0 = performance.now()
    const data = generate(opts.scale)
    const generateMs = performance.now() - t0
    const c = data.counts
    log(`generated ${c.users} users, ${c.articles} articles, ${data.articleTags.articleId.length} article tags, ` +
      `${c.favorites} favorites, ${c.follows} follows, ${c.comments} comments in ${Math.round(generateMs)} ms`)

    const t1 = performance.now()
    await client.query('BEGIN')
    try {
      if (truncate) {
        log('truncating the existing data (--force)')
        await client.query(`TRUNCATE ${TABLES.join(', ')} RESTART IDENTITY CASCADE`)
      }
      // Replica mode skips triggers: the per-row foreign-key checks and the change-notification
      // triggers, which make up most of the load time. The data is consistent by construction,
      // and the TRUNCATE above has already queued its "everything changed" notifications.
      // Only superusers may; others load more slowly.
      await client.query('SAVEPOINT replica')
      await client.query('SET LOCAL session_replication_role = replica')
        .catch(() => client.query('ROLLBACK TO SAVEPOINT replica'))
      const { users, articles, articleTags, favorites, follows, comments } = data
      await insertBatches(client,
        `INSERT INTO users (id, username, email, password_hash, bio, image, created_at, updated_at)
         OVERRIDING SYSTEM VALUE
         SELECT id, username, email, $7, bio, image, created_at, created_at
         FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
           AS t (id, username, email, bio, image, created_at)`,
        [ids(c.users), users.username, users.email, users.bio, users.image, users.createdAt], 10000, [data.passwordHash])

      await insertBatches(client,
        `INSERT INTO tags (id, name) OVERRIDING SYSTEM VALUE
         SELECT * FROM unnest($1::int[], $2::text[])`,
        [ids(data.tags.length), data.tags], 10000)

      // ~2.5 KB bodies: batches of 1,000 keep each message a few MB.
      await insertBatches(client,
        `INSERT INTO articles (id, slug, title, description, body, author_id, created_at, updated_at)
         OVERRIDING SYSTEM VALUE
         SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[],
                              $7::timestamptz[], $8::timestamptz[])`,
        [ids(c.articles), articles.slug, articles.title, articles.description, articles.body,
          articles.authorId, articles.createdAt, articles.updatedAt], 1000)

      await insertBatches(client,
        'INSERT INTO article_tags (article_id, tag_id) SELECT * FROM unnest($1::int[], $2::int[])',
        [articleTags.articleId, articleTags.tagId], 50000)

      await insertBatches(client,
        `INSERT INTO favorites (user_id, article_id, created_at)
         SELECT * FROM unnest($1::int[], $2::int[], $3::timestamptz[])`,
        [favorites.userId, favorites.articleId, favorites.createdAt], 50000)

      await insertBatches(client,
        `INSERT INTO follows (follower_id, followee_id, created_at)
         SELECT * FROM unnest($1::int[], $2::int[], $3::timestamptz[])`,
        [follows.followerId, follows.followeeId, follows.createdAt], 50000)

      await insertBatches(client,
        `INSERT INTO comments (id, article_id, author_id, body, created_at, updated_at)
         OVERRIDING SYSTEM VALUE
         SELECT id, article_id, author_id, body, created_at, created_at
         FROM unnest($1::int[], $2::int[], $3::int[], $4::text[], $5::timestamptz[])
           AS t (id, article_id, author_id, body, created_at)`,
        [ids(c.comments), comments.articleId, comments.authorId, comments.body, comments.createdAt], 20000)

      // Explicit ids leave the identity sequences at 1: the API's own inserts must continue after them.
      for (const table of ['users', 'tags', 'articles', 'comments']) {
        await client.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT COALESCE(max(id), 0) + 1 FROM ${table}), false)`)
      }
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    }
    const loadMs = performance.now() - t1
    log(`loaded in ${Math.round(loadMs)} ms`)

    // Fresh statistics and visibility maps, so the plans and index-only scans are those of a
    // database that has been running for a while rather than of one just bulk-loaded.
    const t2 = performance.now()
    await client.query(`VACUUM (ANALYZE) ${TABLES.join(', ')}`)
    const analyzeMs = performance.now() - t2
    log(`vacuum analyze in ${Math.round(analyzeMs)} ms`)

    return { counts: c, generateMs, loadMs, analyzeMs, totalMs: performance.now() - started }
  })
}
