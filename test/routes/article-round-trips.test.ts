// The uncached article read (CACHE=off: what every cache miss and every LISTEN outage costs) is
// one PostgreSQL round trip, anonymous or signed in: the viewer's flags come with the article.
import pg from 'pg'
import t from 'tap'
import { follow, favorite } from '../articles-helper.js'
import { auth, build, createArticle, registerUser } from '../helper.js'

// pg sends one statement per query() call and waits for its answer (no pipelining): each call is
// a round trip. Patched before the app opens its connections, which bind query() when they open.
let counting = false
let sent: string[] = []
const query = pg.Client.prototype.query
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  if (counting) {
    const first = args[0] as string | { text?: string, name?: string }
    sent.push(typeof first === 'string' ? first : first.name ?? first.text ?? '?')
  }
  return (query as (...a: unknown[]) => unknown).apply(this, args)
} as typeof query
t.teardown(() => { pg.Client.prototype.query = query })

async function statementsOf (work: () => Promise<{ statusCode: number }>, status = 200): Promise<string[]> {
  sent = []
  counting = true
  try {
    const res = await work()
    if (res.statusCode !== status) throw new Error(`answered ${res.statusCode}`)
    return sent
  } finally {
    counting = false
  }
}

for (const prepared of ['on', 'off']) {
  t.test(`GET /api/articles/:slug with CACHE=off, PG_PREPARED_STATEMENTS=${prepared}: one round trip`, async t => {
    const app = await build(t, { CACHE: 'off', PG_PREPARED_STATEMENTS: prepared })
    const jake = await registerUser(app)
    const jane = await registerUser(app)
    const { slug } = await createArticle(app, jake, { tagList: ['dragons'] })
    await favorite(app, jane, slug)
    await follow(app, jane, jake.username)
    const get = (headers = {}) => app.inject({ method: 'GET', url: `/api/articles/${slug}`, headers })

    t.equal((await statementsOf(() => get())).length, 1, 'anonymous')
    const signedIn = await statementsOf(() => get(auth(jane)))
    t.equal(signedIn.length, 1, 'signed in: the viewer\'s flags come with the article')
    const { article } = (await get(auth(jane))).json()
    t.match(article, { favorited: true, favoritesCount: 1, author: { following: true } }, 'flags read in the same statement')
    const other = (await get(auth(jake))).json().article
    t.match(other, { favorited: false, author: { following: false } }, 'another viewer has flags of their own')
    const missing = () => app.inject({ method: 'GET', url: '/api/articles/no-such-slug', headers: auth(jane) })
    t.equal((await statementsOf(missing, 404)).length, 1, 'a missing article: one round trip too')
  })
}
