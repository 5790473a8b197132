import { performance } from 'node:perf_hooks'
import pg from 'pg'
import t from 'tap'
import { CHANGE_CHANNEL, parseChangeEvent } from '../../src/db/change-events.js'
import { isLsn, parseLsn } from '../../src/db/lsn.js'
import { runMigrations } from '../../src/db/migrate.js'
import { createTestDatabase } from '../helper.js'

// The triggers of migrations/002_change_notifications.sql (and 005's "at", 006's "lsn"), observed by a plain LISTEN session.

const url = await createTestDatabase(t)
await runMigrations(url)

const listener = new pg.Client({ connectionString: url })
const writer = new pg.Client({ connectionString: url })
await Promise.all([listener.connect(), writer.connect()])
t.teardown(() => Promise.all([listener.end(), writer.end()]))

type Payload = Record<string, unknown>
const received: Payload[] = []
let marks = 0
const waiting = new Map<string, () => void>()
listener.on('notification', msg => {
  if (msg.channel === 'test_mark') return waiting.get(msg.payload ?? '')?.()
  received.push(JSON.parse(msg.payload ?? '') as Payload)
})
await listener.query(`LISTEN ${CHANGE_CHANNEL}`)
await listener.query('LISTEN test_mark')

/** Waits until every notification committed so far by `session` has arrived. */
async function drain (session: pg.Client = writer): Promise<void> {
  // Delivery follows commit order, so a marker sent afterwards arrives after them: no sleeping.
  const mark = `mark-${++marks}`
  const arrived = new Promise<void>(resolve => waiting.set(mark, resolve))
  await session.query('SELECT pg_notify($1, $2)', ['test_mark', mark])
  await arrived
  waiting.delete(mark)
}

const dbNow = async () => Number((await writer.query<{ ms: string }>(
  'SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms')).rows[0]!.ms)

const fileBegan = await dbNow()
const walNow = async () => parseLsn((await writer.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn)
const fileLsn = await walNow()

/**
 * Runs SQL on the writer session and returns the change payloads it caused, each checked to carry
 * "at" (when its statement began: during these statements, or before them for a statement of a
 * transaction they commit) and "lsn" (a WAL position from before the commit), and returned without them.
 */
async function changes (...statements: string[]): Promise<Payload[]> {
  received.length = 0
  const began = statements.includes('COMMIT') ? fileBegan : await dbNow()
  const lsnBefore = statements.includes('COMMIT') ? fileLsn : await walNow()
  for (const sql of statements) await writer.query(sql)
  const ended = await dbNow()
  const lsnAfter = await walNow()
  await drain()
  const result = [...received]
  for (const payload of result) {
    parseChangeEvent(JSON.stringify(payload)) // the listener's parser accepts it
    const { at } = payload
    if (typeof at !== 'number' || at < began || at > ended) {
      throw new Error(`"at" ${String(at)} is not within the statements' run (${began}..${ended}): ${JSON.stringify(payload)}`)
    }
    delete payload.at
    const { lsn } = payload
    if (typeof lsn !== 'string' || !isLsn(lsn) || parseLsn(lsn) < lsnBefore || parseLsn(lsn) > lsnAfter) {
      throw new Error(`"lsn" ${String(lsn)} is not a WAL position of the statements' run: ${JSON.stringify(payload)}`)
    }
    delete payload.lsn
  }
  return result
}

/** Runs SQL whose notifications are not under test: they are drained, not returned. */
async function setup<R extends pg.QueryResultRow = { id: number }> (sql: string): Promise<R[]> {
  const { rows } = await writer.query<R>(sql)
  await drain()
  return rows
}

async function one (sql: string): Promise<Payload> {
  const got = await changes(sql)
  if (got.length !== 1) throw new Error(`expected one notification for ${sql}, got ${JSON.stringify(got)}`)
  return got[0]!
}

async function id (sql: string): Promise<number> {
  return (await setup(sql))[0]!.id
}

const userIds: number[] = []
const articleIds: number[] = []

t.test('users', async t => {
  const ins = await one(`INSERT INTO users (username, email, password_hash)
                         VALUES ('ann', 'ann@x', 'h'), ('bob', 'bob@x', 'h'), ('cid', 'cid@x', 'h') RETURNING id`)
  const { rows } = await writer.query<{ id: number }>('SELECT id FROM users ORDER BY id')
  userIds.push(...rows.map(r => r.id))
  t.same(ins, { t: 'users', op: 'INSERT', ids: userIds, usernames: ['ann', 'bob', 'cid'] }, 'multi-row INSERT: one notification')

  const [ann, bob] = userIds as [number, number]
  t.same(await one(`UPDATE users SET username = 'anna', updated_at = now() WHERE id = ${ann}`),
    { t: 'users', op: 'UPDATE', ids: [ann], usernames: ['ann', 'anna'] }, 'rename: old and new username')
  t.same(await one(`UPDATE users SET bio = 'hi' WHERE id IN (${ann}, ${bob})`),
    { t: 'users', op: 'UPDATE', ids: [ann, bob], usernames: ['anna', 'bob'] }, 'unchanged username listed once')
  t.same(await changes('UPDATE users SET bio = bio'), [], 'UPDATE that changes nothing: no notification')
  t.same(await one(`UPDATE users SET email = upper(email) WHERE id IN (${ann}, ${bob})`),
    { t: 'users', op: 'UPDATE', ids: [ann, bob], usernames: ['anna', 'bob'] }, 'any column counts')
  t.same(await changes("DELETE FROM users WHERE username = 'nobody'"), [], 'DELETE matching nothing: no notification')

  const tmp = await id("INSERT INTO users (username, email, password_hash) VALUES ('tmp', 'tmp@x', 'h') RETURNING id")
  t.same(await one(`DELETE FROM users WHERE id = ${tmp}`), { t: 'users', op: 'DELETE', ids: [tmp], usernames: ['tmp'] })
})

t.test('articles', async t => {
  const [ann, bob] = userIds as [number, number]
  const ins = await one(`INSERT INTO articles (slug, title, description, body, author_id)
                         VALUES ('a-1', 'A', 'd', 'b', ${ann}), ('a-2', 'B', 'd', 'b', ${bob})`)
  const { rows } = await writer.query<{ id: number }>('SELECT id FROM articles ORDER BY id')
  articleIds.push(...rows.map(r => r.id))
  const [a1, a2] = articleIds as [number, number]
  t.same(ins, { t: 'articles', op: 'INSERT', ids: [a1, a2], slugs: ['a-1', 'a-2'], authors: [ann, bob] })

  t.same(await one(`UPDATE articles SET slug = 'a-1-new', title = 'A2' WHERE id = ${a1}`),
    { t: 'articles', op: 'UPDATE', ids: [a1], slugs: ['a-1', 'a-1-new'], authors: [ann] }, 'slug change: old and new slug')
  t.same(await one(`UPDATE articles SET author_id = ${bob} WHERE id = ${a1}`),
    { t: 'articles', op: 'UPDATE', ids: [a1], slugs: ['a-1-new'], authors: [ann, bob] }, 'author change: old and new author')
  t.same(await one(`UPDATE articles SET body = 'new body' WHERE slug IN ('a-1-new', 'a-2') AND id = ${a2}`),
    { t: 'articles', op: 'UPDATE', ids: [a2], slugs: ['a-2'], authors: [bob] }, 'body change')
  t.same(await changes('UPDATE articles SET title = title'), [], 'no-op UPDATE: nothing')
  t.same(await one(`UPDATE articles SET body = CASE WHEN id = ${a1} THEN body || '!' ELSE body END`),
    { t: 'articles', op: 'UPDATE', ids: [a1], slugs: ['a-1-new'], authors: [bob] }, 'only the rows that changed are named')

  const tmp = await id(`INSERT INTO articles (slug, title, description, body, author_id) VALUES ('tmp', 'T', 'd', 'b', ${ann}) RETURNING id`)
  t.same(await one(`DELETE FROM articles WHERE id = ${tmp}`), { t: 'articles', op: 'DELETE', ids: [tmp], slugs: ['tmp'], authors: [ann] })
})

t.test('tags and article_tags', async t => {
  const [a1, a2] = articleIds as [number, number]
  const quotedName = '"quoted" \\ é'
  const tags = await one(`INSERT INTO tags (name) VALUES ('go'), (${writer.escapeLiteral(quotedName)}) ON CONFLICT (name) DO NOTHING`)
  const { rows } = await writer.query<{ id: number, name: string }>('SELECT id, name FROM tags ORDER BY id')
  const [go, quoted] = rows.map(r => r.id) as [number, number]
  // Text arrays are in the database's collation order; compare them sorted.
  t.same({ ...tags, names: (tags.names as string[]).sort() }, { t: 'tags', op: 'INSERT', ids: [go, quoted], names: [quotedName, 'go'] },
    'names are JSON-escaped')
  t.same(await changes("INSERT INTO tags (name) VALUES ('go') ON CONFLICT (name) DO NOTHING"), [], 'conflict skipped: nothing')

  t.same(await one(`INSERT INTO article_tags (article_id, tag_id) VALUES (${a1}, ${go}), (${a2}, ${go}), (${a2}, ${quoted})`),
    { t: 'article_tags', op: 'INSERT', articles: [a1, a2], tags: [go, quoted] })
  t.same(await one(`DELETE FROM article_tags WHERE article_id = ${a2} AND tag_id = ${quoted}`),
    { t: 'article_tags', op: 'DELETE', articles: [a2], tags: [quoted] })
  t.same(await one(`UPDATE tags SET name = 'golang' WHERE id = ${go}`),
    { t: 'tags', op: 'UPDATE', ids: [go], names: ['go', 'golang'] }, 'rename: old and new name')

  // What the API does on PUT with a new tag list (articles repository replaceTags), in one transaction.
  const replaced = await changes('BEGIN', `DELETE FROM article_tags WHERE article_id = ${a1}`,
    "INSERT INTO tags (name) SELECT unnest(ARRAY['golang', 'new']) ON CONFLICT (name) DO NOTHING",
    `INSERT INTO article_tags (article_id, tag_id) SELECT ${a1}, id FROM tags WHERE name = ANY(ARRAY['golang', 'new'])`,
    'COMMIT')
  const fresh = await id("SELECT id FROM tags WHERE name = 'new'")
  t.same(replaced, [
    { t: 'article_tags', op: 'DELETE', articles: [a1], tags: [go] },
    { t: 'tags', op: 'INSERT', ids: [fresh], names: ['new'] },
    { t: 'article_tags', op: 'INSERT', articles: [a1], tags: [go, fresh] }
  ], 'one notification per statement, delivered at commit')

  t.same(await changes(`DELETE FROM tags WHERE id = ${go}`), [
    { t: 'tags', op: 'DELETE', ids: [go], names: ['golang'] },
    { t: 'article_tags', op: 'DELETE', articles: [a1, a2], tags: [go] }
  ], 'ON DELETE CASCADE notifies for the child table too')
})

t.test('favorites and follows', async t => {
  const [ann, bob, cid] = userIds as [number, number, number]
  const [a1, a2] = articleIds as [number, number]
  t.same(await one(`INSERT INTO favorites (user_id, article_id) VALUES (${ann}, ${a1}), (${bob}, ${a1}), (${bob}, ${a2})`),
    { t: 'favorites', op: 'INSERT', articles: [a1, a2], users: [ann, bob] })
  t.same(await changes(`INSERT INTO favorites (user_id, article_id) VALUES (${ann}, ${a1}) ON CONFLICT DO NOTHING`), [],
    'favoriting twice (the API is idempotent): nothing')
  t.same(await one(`DELETE FROM favorites WHERE user_id = ${bob} AND article_id = ${a2}`),
    { t: 'favorites', op: 'DELETE', articles: [a2], users: [bob] })

  t.same(await one(`INSERT INTO follows (follower_id, followee_id) VALUES (${ann}, ${bob}), (${cid}, ${bob})`),
    { t: 'follows', op: 'INSERT', followers: [ann, cid], followees: [bob] })
  t.same(await one(`UPDATE follows SET followee_id = ${cid} WHERE follower_id = ${ann}`),
    { t: 'follows', op: 'UPDATE', followers: [ann], followees: [bob, cid] }, 'UPDATE of a key: old and new pair')
  t.same(await one(`DELETE FROM follows WHERE follower_id = ${cid}`),
    { t: 'follows', op: 'DELETE', followers: [cid], followees: [bob] })
})

t.test('comments', async t => {
  const [ann, bob] = userIds as [number, number]
  const [a1, a2] = articleIds as [number, number]
  const ins = await one(`INSERT INTO comments (article_id, author_id, body) VALUES (${a1}, ${ann}, 'x'), (${a2}, ${bob}, 'y')`)
  const { rows } = await writer.query<{ id: number }>('SELECT id FROM comments ORDER BY id')
  const [c1, c2] = rows.map(r => r.id) as [number, number]
  t.same(ins, { t: 'comments', op: 'INSERT', ids: [c1, c2], articles: [a1, a2], authors: [ann, bob] })
  t.same(await one(`UPDATE comments SET body = 'edited' WHERE id = ${c2}`),
    { t: 'comments', op: 'UPDATE', ids: [c2], articles: [a2], authors: [bob] })
  t.same(await one(`DELETE FROM comments WHERE id = ${c1}`),
    { t: 'comments', op: 'DELETE', ids: [c1], articles: [a1], authors: [ann] })
})

t.test('deleting a user notifies each cascaded table once', async t => {
  const dee = await id("INSERT INTO users (username, email, password_hash) VALUES ('dee', 'dee@x', 'h') RETURNING id")
  const [ann] = userIds as [number]
  const own = (await setup(`INSERT INTO articles (slug, title, description, body, author_id)
    SELECT 'dee-' || g, 'T', 'd', 'b', ${dee} FROM generate_series(1, 5) g RETURNING id`)).map(r => r.id).sort((a, b) => a - b)
  await setup(`INSERT INTO favorites (user_id, article_id) SELECT ${ann}, id FROM articles WHERE author_id = ${dee}`)
  await setup(`INSERT INTO comments (article_id, author_id, body) SELECT id, ${ann}, 'c' FROM articles WHERE author_id = ${dee}`)
  await setup(`INSERT INTO follows (follower_id, followee_id) VALUES (${ann}, ${dee}), (${dee}, ${ann})`)

  const got = await changes(`DELETE FROM users WHERE id = ${dee}`)
  t.same(got.map(p => p.t).sort(), ['articles', 'comments', 'favorites', 'follows', 'users'], 'one per table')
  const byTable = Object.fromEntries(got.map(p => [p.t, p]))
  t.same(byTable.users, { t: 'users', op: 'DELETE', ids: [dee], usernames: ['dee'] })
  t.same(byTable.articles, { t: 'articles', op: 'DELETE', ids: own, slugs: own.map((_, i) => `dee-${i + 1}`), authors: [dee] })
  t.same(byTable.favorites, { t: 'favorites', op: 'DELETE', articles: own, users: [ann] })
  t.same(byTable.comments?.articles, own)
  // Rows deleted through both foreign keys of follows (to follower and followee): still one.
  t.same(byTable.follows, { t: 'follows', op: 'DELETE', followers: [ann, dee].sort((a, b) => a - b), followees: [ann, dee].sort((a, b) => a - b) })
})

t.test('INSERT ... ON CONFLICT DO UPDATE notifies as an UPDATE', async t => {
  const [ann, , cid] = userIds as [number, number, number]
  const [a1] = articleIds as [number]
  const got = await changes(`INSERT INTO favorites (user_id, article_id) VALUES (${ann}, ${a1}), (${cid}, ${a1})
    ON CONFLICT (user_id, article_id) DO UPDATE SET created_at = excluded.created_at + interval '1 second'`)
  t.same(got.sort((a, b) => String(a.op).localeCompare(String(b.op))), [
    { t: 'favorites', op: 'INSERT', articles: [a1], users: [cid] },
    { t: 'favorites', op: 'UPDATE', articles: [a1], users: [ann] }
  ])
})

t.test('transactions', async t => {
  t.same(await changes('BEGIN', "INSERT INTO tags (name) VALUES ('rolled-back')", 'ROLLBACK'), [], 'rolled back: nothing')
  t.same(await changes('BEGIN', "INSERT INTO tags (name) VALUES ('sp')", 'SAVEPOINT s',
    "INSERT INTO tags (name) VALUES ('sp-undone')", 'ROLLBACK TO SAVEPOINT s', 'COMMIT').then(got => got.map(p => p.names)),
  [['sp']], 'statement rolled back to a savepoint: nothing for it')

  // Until commit nothing is delivered.
  await writer.query('BEGIN')
  await writer.query("INSERT INTO tags (name) VALUES ('later')")
  received.length = 0
  const other = new pg.Client({ connectionString: url })
  await other.connect()
  await drain(other)
  await other.end()
  t.same(received, [], 'nothing before COMMIT')
  t.match(await changes('COMMIT'), [{ t: 'tags', op: 'INSERT', names: ['later'] }], 'delivered at COMMIT')
})

t.test('large statements name no rows', async t => {
  const exact = await one("INSERT INTO tags (name) SELECT 'n' || g FROM generate_series(1, 200) g")
  t.equal((exact.ids as number[]).length, 200, '200 rows are still named')
  t.same(await one("INSERT INTO tags (name) SELECT 'm' || g FROM generate_series(1, 201) g"),
    { t: 'tags', op: 'INSERT', all: true }, '201 rows: all')
  t.same(await one("UPDATE tags SET name = name || '!' WHERE name LIKE 'm%'"), { t: 'tags', op: 'UPDATE', all: true })
  t.same(await one("DELETE FROM tags WHERE name LIKE 'm%'"), { t: 'tags', op: 'DELETE', all: true })

  // 100 names of 100 bytes fit the row limit but not NOTIFY's 8000 bytes.
  const big = await one("INSERT INTO tags (name) SELECT 'big-' || g || repeat('x', 96) FROM generate_series(1, 100) g")
  t.same(big, { t: 'tags', op: 'INSERT', all: true }, 'payload too large: all')
  const fits = await one("UPDATE tags SET name = left(name, 20) WHERE name LIKE 'big-%'")
  t.same(fits, { t: 'tags', op: 'UPDATE', all: true }, 'old and new names count towards the size')
  const small = await one("INSERT INTO tags (name) SELECT 'sm-' || g || repeat('y', 40) FROM generate_series(1, 100) g")
  t.ok(JSON.stringify(small).length < 8000 && Array.isArray(small.names), 'just under the size limit: named')

  t.same(await changes('TRUNCATE follows'), [{ t: 'follows', op: 'TRUNCATE', all: true }], 'TRUNCATE: all')
  t.same((await changes('TRUNCATE articles CASCADE')).map(p => `${p.t} ${p.op} ${p.all}`).sort(), [
    'article_tags TRUNCATE true', 'articles TRUNCATE true', 'comments TRUNCATE true', 'favorites TRUNCATE true'
  ], 'TRUNCATE ... CASCADE: each table')
})

t.test('100,000-row statements: one notification each, timed', async t => {
  const author = await id("INSERT INTO users (username, email, password_hash) VALUES ('bulk', 'bulk@x', 'h') RETURNING id")
  const timed = async (sql: string) => {
    const start = performance.now()
    const got = await changes(sql)
    return { got, ms: Math.round(performance.now() - start) }
  }
  const insert = await timed(`INSERT INTO articles (slug, title, description, body, author_id)
    SELECT 'bulk-' || g, 'Title ' || g, 'description', repeat('body ', 20), ${author} FROM generate_series(1, 100000) g`)
  t.same(insert.got, [{ t: 'articles', op: 'INSERT', all: true }], 'INSERT of 100k rows: one notification')
  await writer.query('VACUUM ANALYZE articles')

  const update = "UPDATE articles SET title = title || '!'"
  const withTriggers = await timed(update)
  t.same(withTriggers.got, [{ t: 'articles', op: 'UPDATE', all: true }], 'UPDATE of 100k rows: one notification')

  await writer.query('VACUUM articles')
  await writer.query('ALTER TABLE articles DISABLE TRIGGER USER')
  const without = await timed(update).finally(() => writer.query('ALTER TABLE articles ENABLE TRIGGER USER'))
  t.same(without.got, [], 'triggers disabled: nothing')
  t.comment(`100k rows: INSERT ${insert.ms} ms; "${update}" ${withTriggers.ms} ms with triggers, ${without.ms} ms without`)
})
