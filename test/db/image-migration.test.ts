import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { MIGRATIONS_DIR, runMigrations } from '../../src/db/migrate.js'
import { createTestDatabase, queryDatabase } from '../helper.js'

t.test('migration 003 clears stored images that are not http(s) URLs, then refuses them', async t => {
  const url = await createTestDatabase(t)
  await runMigrations(url)
  // As the database stood before 003: no constraint, and images written by anyone.
  await queryDatabase(url, 'ALTER TABLE users DROP CONSTRAINT users_image_http')
  const images = ['javascript:alert(1)', 'data:image/png;base64,AAAA', 'https://ok.example/a.png', 'HTTP://OK.EXAMPLE/B.PNG', '', 'https://']
  for (const [i, image] of images.entries()) {
    await queryDatabase(url, "INSERT INTO users (username, email, password_hash, image) VALUES ($1, $1 || '@x.example', 'x', $2)", [`u${i}`, image])
  }
  await queryDatabase(url, await readFile(join(MIGRATIONS_DIR, '003_user_image_http.sql'), 'utf8'))
  const rows = await queryDatabase<{ image: string }>(url, 'SELECT image FROM users ORDER BY username')
  t.same(rows.map(row => row.image), ['', '', 'https://ok.example/a.png', 'HTTP://OK.EXAMPLE/B.PNG', '', ''])
  await t.rejects(queryDatabase(url, "UPDATE users SET image = 'javascript:x' WHERE username = 'u2'"), { code: '23514' })
})
