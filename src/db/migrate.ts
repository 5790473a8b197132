import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { migrate } from 'postgres-migrations'

// Resolves from src/db (tests) and dist/db (built service) alike.
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url))

/**
 * Applies pending migrations on a connection of its own: postgres-migrations holds a
 * session-level advisory lock, so instances starting together migrate one at a time.
 */
export async function runMigrations (connectionString: string): Promise<string[]> {
  const client = new pg.Client({ connectionString })
  await client.connect()
  try {
    const applied = await migrate({ client }, MIGRATIONS_DIR, { logger: () => {} })
    return applied.map(m => m.fileName)
  } finally {
    await client.end()
  }
}
