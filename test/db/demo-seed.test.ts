import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { migrate } from 'postgres-migrations'
import t from 'tap'
import { seedDemoData } from '../../src/db/demo-seed.js'

const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const migrationsDir = fileURLToPath(new URL('../../migrations', import.meta.url))
const database = `test_demo_seed_${randomBytes(6).toString('hex')}`
const tables = ['users', 'follows', 'articles', 'tags', 'article_tags', 'favorites', 'comments']

const admin = new pg.Client({ connectionString: adminUrl })
await admin.connect()
await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`)

const url = new URL(adminUrl)
url.pathname = `/${database}`
const pool = new pg.Pool({ connectionString: url.toString(), max: 4 })
// The teardown's DROP DATABASE ... WITH (FORCE) may terminate a connection the pool still holds.
pool.on('error', () => {})

t.teardown(async () => {
  await pool.end()
  await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(database)} WITH (FORCE)`)
  await admin.end()
})

const client = await pool.connect()
try {
  await migrate({ client }, migrationsDir)
} finally {
  client.release()
}

const logged: object[] = []
const log = { info: (o: object | string) => { if (typeof o === 'object') logged.push(o) } }
const hashPassword = async (plain: string) => `x:${plain}`

async function counts (): Promise<Record<string, number>> {
  const result: Record<string, number> = {}
  for (const table of tables) {
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)
    result[table] = rows[0]!.n
  }
  return result
}

t.test('seeds an empty database once', async (t) => {
  t.equal(await seedDemoData(pool, hashPassword, log), true, 'first run seeds')
  const first = await counts()
  for (const table of tables) t.ok(first[table]! > 0, `${table} has rows`)
  t.match(logged, [{ users: first.users, articles: first.articles, comments: first.comments }])

  t.equal(await seedDemoData(pool, hashPassword, log), false, 'second run skips')
  t.same(await counts(), first, 'counts unchanged')
})

t.test('demo data is usable by the API', async (t) => {
  const { rows: [demo] } = await pool.query('SELECT password_hash FROM users WHERE email = $1', ['demo@conduit.local'])
  t.equal(demo?.password_hash, 'x:password', 'demo user hashed through the given function')

  const { rows: slugs } = await pool.query<{ slug: string }>('SELECT slug FROM articles')
  for (const { slug } of slugs) t.match(slug, /^[a-z0-9]+(-[a-z0-9]+)*-[0-9a-f]{6}$/, `${slug} is url-safe`)

  const { rows: [spread] } = await pool.query(
    'SELECT count(DISTINCT created_at::date)::int AS days, bool_and(created_at <= now()) AS past FROM articles')
  t.ok(spread.days > 3, 'articles are spread over several days')
  t.equal(spread.past, true, 'no article is dated in the future')

  const { rows: shared } = await pool.query(
    'SELECT t.name FROM tags t JOIN article_tags at ON at.tag_id = t.id GROUP BY t.name HAVING count(*) > 1')
  t.ok(shared.length >= 3, 'several tags are shared between articles')
})

t.test('concurrent seeders do not both seed', async (t) => {
  await pool.query('TRUNCATE users, tags RESTART IDENTITY CASCADE')
  const results = await Promise.all([
    seedDemoData(pool, hashPassword, log),
    seedDemoData(pool, hashPassword, log)
  ])
  t.same(results.sort(), [false, true])
  t.equal((await counts()).users, 4)
})
