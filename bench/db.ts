import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import pg from 'pg'
import { migrate } from 'postgres-migrations'

export const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres'

export async function withClient<T> (url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'gravity-bench' })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** The service's own migrations, so the bench schema is exactly what the service would create. */
export async function migrateDatabase (url: string): Promise<string[]> {
  const dir = resolve(process.cwd(), 'migrations')
  if (!existsSync(dir)) throw new Error(`no migrations at ${dir}: run the bench from the repository root`)
  return withClient(url, async client => {
    const applied = await migrate({ client }, dir, { logger: () => {} })
    return applied.map(m => m.fileName)
  })
}

/** The same server and credentials as `url`, another database. */
export function databaseUrl (url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

export function databaseName (url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1))
}

/** Only names the bench itself makes: keeps a typo from dropping someone else's database. */
function assertBenchName (name: string): void {
  if (!/^bench_[a-z0-9_]+$/.test(name)) throw new Error(`refusing to touch database ${name}: not a bench_* database`)
}

export async function createDatabase (serverUrl: string, name: string): Promise<string> {
  assertBenchName(name)
  await withClient(serverUrl, client => client.query(`CREATE DATABASE ${name}`))
  return databaseUrl(serverUrl, name)
}

export async function dropDatabase (serverUrl: string, name: string): Promise<void> {
  assertBenchName(name)
  await withClient(serverUrl, client => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
}
