import { loadConfig } from '../config.js'
import { runMigrations } from './migrate.js'

// `npm run migrate`: applies pending migrations to DATABASE_URL and exits.
const config = loadConfig()
if (config.DATABASE_URL === undefined) {
  console.error('DATABASE_URL is required for npm run migrate (npm start migrates the embedded database itself)')
  process.exit(1)
}
const applied = await runMigrations(config.DATABASE_URL)
console.log(applied.length > 0 ? `applied ${applied.join(', ')}` : 'database is up to date')
