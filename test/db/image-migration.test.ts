import t from 'tap'
import { runMigrations } from '../../src/db/migrate.js'
import { createTestDatabase, queryDatabase } from '../helper.js'

t.test('migration 003 clears stored images that are not http(s) URLs, then refuses them', async t => {
  const url = await createTestDatabase(t)
  await runMigrations(url)
  // As the database stood before 003: no constraint, and images written by anyone.
  await queryDatabase(url, 'ALTER TABLE users DROP CONSTRAINT users_image_http')
  await queryDatabase(url, 'DELETE FROM migrations WHERE id = 3')
  const images = ['javascript:alert(1)', 'data:image/png;base64,AAAA', 'https://ok.example/a.png', 'HTTP://OK.EXAMPLE/B.PNG', '', 'https://']
  for (const [i, image] of images.entries()) {
    await queryDatabase(url, "INSERT INTO users (username, email, password_hash, image) VALUES ($1, $1 || '@x.example', 'x', $2)", [`u${i}`, image])
  }
  t.same(await runMigrations(url), ['003_user_image_http.sql'])
  const rows = await queryDatabase<{ image: string }>(url, 'SELECT image FROM users ORDER BY username')
  t.same(rows.map(row => row.image), ['', '', 'https://ok.example/a.png', 'HTTP://OK.EXAMPLE/B.PNG', '', ''])
  await t.rejects(queryDatabase(url, "UPDATE users SET image = 'javascript:x' WHERE username = 'u2'"), { code: '23514' })
})
