import { directDatabaseUrl, loadConfig } from '../config.js'
import { runMigrations } from './migrate.js'

// `npm run migrate`: applies pending migrations (over DATABASE_LISTEN_URL when set: a direct
// session, as the migrations' advisory lock needs) and exits.
const config = loadConfig()
const url = directDatabaseUrl(config)
if (url === undefined) {
  console.error('DATABASE_URL is required for npm run migrate (npm start migrates the embedded database itself)')
  process.exit(1)
}
const applied = await runMigrations(url)
console.log(applied.length > 0 ? `applied ${applied.join(', ')}` : 'database is up to date')
