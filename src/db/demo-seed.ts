import { createHash } from 'node:crypto'
import type pg from 'pg'

interface SeedLog { info (o: object | string, msg?: string): void }
interface DemoArticle {
  author: string
  title: string
  description: string
  body: string
  tags: string[]
  daysAgo: number
  favoritedBy: string[]
  comments: Array<[author: string, body: string]>
}

const DAY = 24 * 60 * 60 * 1000
const HOUR = 60 * 60 * 1000

/** The demo account every demo user shares the password of (printed at startup). */
export const DEMO_LOGIN = { email: 'demo@conduit.local', password: 'password' } as const

export const DEMO_USERS = [
  { username: 'jake', email: DEMO_LOGIN.email, bio: `Demo account: sign in as ${DEMO_LOGIN.email} with password "${DEMO_LOGIN.password}".`, image: '' },
  { username: 'ana', email: 'ana@conduit.local', bio: 'Backend engineer. Reads query plans for fun.', image: '' },
  { username: 'lee', email: 'lee@conduit.local', bio: 'Node.js, Fastify and shaving milliseconds.', image: '' },
  { username: 'maya', email: 'maya@conduit.local', bio: 'Caches, queues and other ways to avoid work.', image: '' }
]

const follows: Array<[follower: string, followee: string]> = [['jake', 'ana'], ['jake', 'lee'], ['ana', 'maya'], ['lee', 'ana'], ['maya', 'jake'], ['maya', 'lee']]

export const DEMO_ARTICLES: DemoArticle[] = [
  {
    author: 'jake',
    title: 'Welcome to Conduit',
    description: 'A quick tour of this demo instance',
    tags: ['welcome'],
    daysAgo: 1,
    body: '# Welcome\n\nThis instance comes with a few users, articles and comments so there is something to click on.\n\n- Sign in as `demo@conduit.local` / `password`\n- Follow someone to fill your **feed**\n- Favorite an article and watch the count change',
    favoritedBy: ['ana', 'lee', 'maya'],
    comments: [['ana', 'Thanks, this made onboarding painless.'], ['maya', 'The feed is a nice touch.']]
  },
  {
    author: 'ana',
    title: 'Reading PostgreSQL Query Plans',
    description: 'EXPLAIN ANALYZE without the fear',
    tags: ['postgres', 'performance'],
    daysAgo: 2,
    body: 'Start with `EXPLAIN (ANALYZE, BUFFERS)` and read the plan **bottom-up**.\n\n1. Compare estimated and actual rows\n2. Look for sequential scans on large tables\n3. Check whether sorts spill to disk\n\nMost slow queries are a missing index or a bad estimate.',
    favoritedBy: ['jake', 'lee'],
    comments: [['lee', 'BUFFERS is the option I always forget.']]
  },
  {
    author: 'lee',
    title: 'Fastify Hooks in Practice',
    description: 'onRequest, preHandler and friends',
    tags: ['fastify'],
    daysAgo: 3,
    body: 'Fastify runs hooks in a fixed order: `onRequest`, `preParsing`, `preValidation`, `preHandler`, then your handler.\n\nAuthenticate in `onRequest` so unauthenticated requests never pay for body parsing.',
    favoritedBy: ['jake'],
    comments: [['jake', 'Moving auth to onRequest shaved a few ms here too.']]
  },
  {
    author: 'maya',
    title: 'Caching Feeds with Redis',
    description: 'Invalidate less, serve more',
    tags: ['redis', 'performance'],
    daysAgo: 4,
    body: 'A feed is expensive to build and cheap to serve.\n\n```\nGET feed:{userId}:{page}\n```\n\nKeep entries short-lived and store ids only, so a renamed author never shows stale data.',
    favoritedBy: ['lee', 'ana'],
    comments: [['ana', 'Ids-only caching is underrated.'], ['lee', 'How short is short-lived?'], ['maya', 'Seconds, not minutes.']]
  },
  {
    author: 'ana',
    title: 'Keyset Pagination Beats OFFSET',
    description: 'Stable pages that stay fast on page 500',
    tags: ['postgres', 'performance'],
    daysAgo: 5,
    body: '`OFFSET 10000` still reads ten thousand rows.\n\nPaginate on `(created_at, id)` instead:\n\n```sql\nWHERE (created_at, id) < ($1, $2)\nORDER BY created_at DESC, id DESC\n```',
    favoritedBy: ['maya'],
    comments: []
  },
  {
    author: 'lee',
    title: 'Validating Requests with TypeBox',
    description: 'Schemas that are also types',
    tags: ['fastify', 'typescript'],
    daysAgo: 6,
    body: 'With TypeBox the JSON schema *is* the TypeScript type.\n\nFastify compiles it once with Ajv, so validation costs almost nothing per request.',
    favoritedBy: [],
    comments: [['jake', 'No more drifting DTOs.']]
  },
  {
    author: 'jake',
    title: 'How This Demo Was Seeded',
    description: 'Plain SQL, one transaction and a table lock',
    tags: ['welcome', 'postgres'],
    daysAgo: 7,
    body: 'The seed runs only when the `users` table is empty.\n\nIt takes `LOCK TABLE users IN EXCLUSIVE MODE` first, so two instances starting together never seed twice.',
    favoritedBy: ['ana'],
    comments: []
  },
  {
    author: 'maya',
    title: 'Counting Without Counters',
    description: 'Why favoritesCount is derived, not stored',
    tags: ['postgres', 'redis'],
    daysAgo: 8,
    body: 'Stored counters drift. Derived counts cannot.\n\nAn index on `favorites (article_id)` makes `count(*)` cheap, and a short cache in front of it covers the hot articles.',
    favoritedBy: ['jake', 'lee', 'ana'],
    comments: [['lee', 'Drift bit us twice last year.']]
  }
]

// Deterministic suffix so demo links stay the same across fresh databases.
export function demoSlug (title: string): string {
  const words = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')
  return `${words}-${createHash('sha256').update(title).digest('hex').slice(0, 6)}`
}

async function hasUsers (db: pg.Pool | pg.PoolClient): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>('SELECT EXISTS (SELECT 1 FROM users) AS present')
  return rows[0]?.present === true
}

export async function seedDemoData (pool: pg.Pool, hashPassword: (plain: string) => Promise<string>, log: SeedLog): Promise<boolean> {
  // Cheap check first so a normal start never hashes passwords or takes the lock.
  if (await hasUsers(pool)) return false
  const hashes = await Promise.all(DEMO_USERS.map(() => hashPassword(DEMO_LOGIN.password)))
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    // Blocks a concurrently starting instance until we commit; it then sees the users and skips.
    await client.query('LOCK TABLE users IN EXCLUSIVE MODE')
    if (await hasUsers(client)) {
      await client.query('ROLLBACK')
      return false
    }
    const now = Date.now()
    const userIds = new Map<string, number>()
    for (const [i, user] of DEMO_USERS.entries()) {
      const { rows } = await client.query<{ id: number }>(
        `INSERT INTO users (username, email, password_hash, bio, image, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`,
        [user.username, user.email, hashes[i], user.bio, user.image, new Date(now - 10 * DAY)])
      userIds.set(user.username, rows[0]!.id)
    }
    const id = (username: string) => userIds.get(username)!

    for (const [follower, followee] of follows) {
      await client.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [id(follower), id(followee)])
    }

    const tagNames = [...new Set(DEMO_ARTICLES.flatMap(a => a.tags))]
    await client.query('INSERT INTO tags (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING', [tagNames])

    let comments = 0
    let favorites = 0
    for (const article of DEMO_ARTICLES) {
      const createdAt = now - article.daysAgo * DAY
      const { rows } = await client.query<{ id: number }>(
        `INSERT INTO articles (slug, title, description, body, author_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`,
        [demoSlug(article.title), article.title, article.description, article.body, id(article.author), new Date(createdAt)])
      const articleId = rows[0]!.id
      await client.query(
        'INSERT INTO article_tags (article_id, tag_id) SELECT $1, id FROM tags WHERE name = ANY($2::text[])',
        [articleId, article.tags])
      for (const username of article.favoritedBy) {
        await client.query('INSERT INTO favorites (user_id, article_id) VALUES ($1, $2)', [id(username), articleId])
        favorites++
      }
      for (const [i, [author, body]] of article.comments.entries()) {
        const at = new Date(createdAt + (i + 1) * HOUR)
        await client.query(
          'INSERT INTO comments (article_id, author_id, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)',
          [articleId, id(author), body, at])
        comments++
      }
    }
    await client.query('COMMIT')
    log.info({
      users: DEMO_USERS.length, articles: DEMO_ARTICLES.length, tags: tagNames.length, comments, favorites, follows: follows.length
    }, 'seeded demo data')
    return true
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
}
