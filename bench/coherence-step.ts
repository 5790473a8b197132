// The coherence scenario as a step of the run: more instances of one cache mode on the bench
// database, SQL and API changes to the home page's newest article, then those instances stopped.
import { runCoherence } from './coherence.js'
import { withClient } from './db.js'
import type { BenchOptions } from './options.js'
import { progress } from './progress.js'
import type { CacheMode, CoherenceResult } from './results.js'
import type { tokenSource } from './scenarios.js'
import type { Service } from './server.js'
import type { Session } from './session.js'

const GAP_MS = 20
const TIMEOUT_MS = 2000

export interface CoherenceStep {
  mode: CacheMode
  /** the instance the scenarios ran against; the others are started here */
  main: Service
  session: Session
  databaseUrl: string
  jwtSecret: string
  pinned: boolean
  tokenFor: ReturnType<typeof tokenSource>
  opts: Pick<BenchOptions, 'instances' | 'changes' | 'redisUrl'>
}

export async function coherenceStep ({ mode, main, session, databaseUrl, jwtSecret, pinned, tokenFor, opts }: CoherenceStep): Promise<CoherenceResult> {
  const extra: Service[] = []
  try {
    for (let i = 2; i <= opts.instances; i++) extra.push(await session.launch(mode, i, databaseUrl, jwtSecret, pinned))
    const instances = [main, ...extra]
    const { article, author } = await newestArticle(databaseUrl)
    const name = `coherence [${mode}]`.padEnd(25)
    console.log(`  ${name} ${instances.length} instances (pids ${instances.map(s => s.pid).join(', ')}), article ${article.slug}`)
    const result = await runCoherence({
      instances,
      dbUrl: databaseUrl,
      token: tokenFor(author),
      article,
      changes: opts.changes,
      gapMs: GAP_MS,
      timeoutMs: TIMEOUT_MS,
      cache: mode,
      redisPrefix: mode === 'on' && opts.redisUrl !== undefined ? session.dbName : undefined,
      onProgress: line => progress(`  ${name} ${line}`, false)
    })
    const f = (x: { p50: number, p99: number, failures: number }) => `p50 ${x.p50.toFixed(1)} p99 ${x.p99.toFixed(1)} ms${x.failures > 0 ? `, ${x.failures} failures` : ''}`
    progress(`  ${name} sql: ${f(result.sql.article)}; api: ${f(result.api.article)}, first read fresh ${result.api.firstReadFresh}/${result.api.firstReads}`, true)
    for (const sample of result.samples) console.log(`      ${sample}`)
    for (const [what, fig] of [['sql', result.sql.article], ['api', result.api.article]] as const) {
      if (fig.slowest !== undefined) console.log(`      slowest ${what} change (article): ${fig.slowest}`)
    }
    return result
  } finally {
    for (const s of extra) {
      const code = await session.stop(s)
      if (code !== 0) console.log(`coherence instance ${s.pid} exited with code ${code} (see ${s.logFile})`)
    }
  }
}

/** The newest article (first on the home page) and its author: what the coherence run changes. */
async function newestArticle (databaseUrl: string) {
  return withClient(databaseUrl, async client => {
    const { rows } = await client.query<{ id: number, slug: string, author_id: number, username: string, email: string }>(
      `SELECT a.id, a.slug, a.author_id, u.username, u.email FROM articles a JOIN users u ON u.id = a.author_id
        ORDER BY a.created_at DESC, a.id DESC LIMIT 1`)
    const row = rows[0]
    if (row === undefined) throw new Error('no article to run coherence on')
    return { article: { id: row.id, slug: row.slug }, author: { id: row.author_id, username: row.username, email: row.email } }
  })
}
