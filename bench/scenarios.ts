import { createSigner } from 'fast-jwt'
import type { Fixtures, UserRef } from './fixtures.js'
import * as shapes from './shapes.js'
import { markdown, sentence, title } from './text.js'
import { intBetween, mulberry32, weighted, zipf, zipfPicker, type Random } from './zipf.js'

/** One request to send, the status it must get, and what its body must look like. */
export interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  /** the user the request is authenticated as */
  token?: string
  body?: unknown
  status: number
  check: shapes.Check
  /** what kind of request this is (the mixed scenario reports failures per kind) */
  kind: string
  /** request headers besides the token (If-None-Match, Accept-Encoding) */
  headers?: Record<string, string>
  /** the body comes compressed: its Content-Encoding is checked instead of its shape */
  encoded?: boolean
  /** sees the headers of a response with the expected status (an ETag to send back next time) */
  remember?: (headers: Record<string, string | string[] | undefined>) => void
}

export interface Scenario {
  name: string
  description: string
  next: () => Call
}

/** A token for each user, made once: HS256 with the service's secret, as src/plugins/tokens.ts signs them. */
export function tokenSource (secret: string): (user: UserRef) => string {
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 24 * 3600 * 1000 })
  const cache = new Map<number, string>()
  return user => {
    let token = cache.get(user.id)
    if (token === undefined) {
      token = sign({ sub: String(user.id) })
      cache.set(user.id, token)
    }
    return token
  }
}

const enc = encodeURIComponent

export function buildScenarios (fixtures: Fixtures, tokenFor: (user: UserRef) => string, seed = 1): Scenario[] {
  // Each scenario has a generator of its own, so one scenario's draws do not shift another's.
  const rng = (n: number): Random => mulberry32(seed * 1000 + n)

  function reads (random: Random) {
    const slug = zipfPicker(fixtures.slugs, 0.9, random)
    const tag = zipfPicker(fixtures.tags, 1.0, random)
    const author = zipfPicker(fixtures.authors, 1.0, random)
    const favoriter = zipfPicker(fixtures.favoriters, 0.8, random)
    const profile = zipfPicker(fixtures.profiles, 1.0, random)
    const reader = zipfPicker(fixtures.readers, 0.8, random)
    const writer = zipfPicker(fixtures.writers, 0.8, random)
    // Frontends ask for 10 or 20 a page; most visitors never leave the first page.
    const limit = weighted([[20, 0.6], [10, 0.4]], random)
    const page = zipf(5, 2, random)
    // Some of the anonymous-capable reads come from signed-in users (favorited/following flags).
    const viewer = (): string | undefined => random() < 0.3 ? tokenFor(writer()) : undefined
    const list = (kind: string, filter: string, expect: Omit<shapes.ListExpectations, 'limit'>, pageable = true): Call => {
      const l = limit()
      const offset = pageable ? page() * l : 0
      return {
        kind,
        method: 'GET',
        path: `/api/articles?${filter}limit=${l}&offset=${offset}`,
        token: viewer(),
        status: 200,
        check: shapes.articleList({ ...expect, limit: l })
      }
    }
    // What a browser sends back: the ETag of the last answer for that URL (a 304 then).
    const tags = new Map<string, string>()
    const conditional = (kind: string, path: string, check: shapes.Check): Call => {
      const tag = tags.get(path)
      if (tag !== undefined) return { kind, method: 'GET', path, headers: { 'if-none-match': tag }, status: 304, check }
      return { kind, method: 'GET', path, status: 200, check, remember: headers => { if (typeof headers.etag === 'string') tags.set(path, headers.etag) } }
    }
    const BROWSER_ENCODINGS = { 'accept-encoding': 'gzip, deflate, br' }
    return {
      baseline: (): Call => ({ kind: 'baseline', method: 'GET', path: '/health/live', status: 200, check: shapes.health }),
      tags: (): Call => ({ kind: 'tags', method: 'GET', path: '/api/tags', status: 200, check: shapes.tags }),
      articles: () => list('articles', '', {}, false),
      articlesTag: () => {
        const t = tag()
        return list('articles-tag', `tag=${enc(t)}&`, { tag: t })
      },
      articlesAuthor: () => {
        const a = author()
        return list('articles-author', `author=${enc(a)}&`, { author: a })
      },
      articlesFavorited: () => list('articles-favorited', `favorited=${enc(favoriter())}&`, {}),
      article: (): Call => {
        const s = slug()
        return { kind: 'article', method: 'GET', path: `/api/articles/${enc(s)}`, token: viewer(), status: 200, check: shapes.article(s) }
      },
      articleAnon: (): Call => {
        const s = slug()
        return { kind: 'article-anon', method: 'GET', path: `/api/articles/${enc(s)}`, status: 200, check: shapes.article(s) }
      },
      articleAnon304: (): Call => {
        const s = slug()
        return conditional('article-anon-304', `/api/articles/${enc(s)}`, shapes.article(s))
      },
      articleAnonBr: (): Call => {
        const s = slug()
        return { kind: 'article-anon-br', method: 'GET', path: `/api/articles/${enc(s)}`, headers: BROWSER_ENCODINGS, encoded: true, status: 200, check: shapes.article(s) }
      },
      articles304: (): Call => conditional('articles-304', '/api/articles?limit=20&offset=0', shapes.articleList({ limit: 20 })),
      articlesBr: (): Call => ({
        kind: 'articles-br', method: 'GET', path: '/api/articles?limit=20&offset=0', headers: BROWSER_ENCODINGS, encoded: true, status: 200, check: shapes.articleList({ limit: 20 })
      }),
      comments: (): Call => ({
        kind: 'comments', method: 'GET', path: `/api/articles/${enc(slug())}/comments`, token: viewer(), status: 200, check: shapes.comments
      }),
      profile: (): Call => {
        const u = profile()
        return { kind: 'profile', method: 'GET', path: `/api/profiles/${enc(u)}`, token: viewer(), status: 200, check: shapes.profile(u) }
      },
      feed: (): Call => {
        const l = limit()
        return {
          kind: 'feed',
          method: 'GET',
          path: `/api/articles/feed?limit=${l}&offset=${page() * l}`,
          token: tokenFor(reader()),
          status: 200,
          check: shapes.articleList({ limit: l })
        }
      },
      user: (): Call => {
        const u = reader()
        return { kind: 'user', method: 'GET', path: '/api/user', token: tokenFor(u), status: 200, check: shapes.user(u.username) }
      }
    }
  }

  function writes (random: Random) {
    const slugRank = zipf(fixtures.slugs.length, 0.9, random)
    const writer = zipfPicker(fixtures.writers, 0.8, random)
    const tag = zipfPicker(fixtures.tags, 1.0, random)
    return {
      // Whether a (user, article) pair is favorited or unfavorited is fixed per pair: two
      // connections racing on one pair then expect the same final state, so the favorited flag
      // in the response can be checked strictly.
      favoriteOrNot: (): Call => {
        const u = writer()
        const rank = slugRank()
        const s = fixtures.slugs[rank] as string
        const favorite = (u.id * 31 + rank) % 3 !== 0
        return {
          kind: favorite ? 'favorite' : 'unfavorite',
          method: favorite ? 'POST' : 'DELETE',
          path: `/api/articles/${enc(s)}/favorite`,
          token: tokenFor(u),
          status: 200,
          check: shapes.article(s, favorite)
        }
      },
      comment: (): Call => {
        const text = sentence(random, 5, 30)
        return {
          kind: 'comment',
          method: 'POST',
          path: `/api/articles/${enc(fixtures.slugs[slugRank()] as string)}/comments`,
          token: tokenFor(writer()),
          body: { comment: { body: text } },
          status: 200,
          check: shapes.comment(text)
        }
      },
      createArticle: (): Call => {
        const tagList = [...new Set(Array.from({ length: intBetween(random, 1, 4) }, tag))]
        return {
          kind: 'create-article',
          method: 'POST',
          path: '/api/articles',
          token: tokenFor(writer()),
          body: { article: { title: title(random), description: sentence(random), body: markdown(random, intBetween(random, 1024, 4096)), tagList } },
          status: 201,
          check: shapes.article()
        }
      }
    }
  }

  const single = (n: number, name: string, description: string, make: (r: ReturnType<typeof reads>) => () => Call): Scenario =>
    ({ name, description, next: make(reads(rng(n))) })

  // Shares of a Conduit site's traffic: article pages (with their comments) and the home page
  // dominate; 5 % writes. `mixed-reads` is the same 95 % without the writes: what the writes
  // (and the invalidations they cause) cost is the difference between the two.
  const siteReads = (r: ReturnType<typeof reads>): Array<readonly [() => Call, number]> => [
    [r.article, 22], [r.comments, 18], [r.articles, 15], [r.tags, 10], [r.articlesTag, 8],
    [r.feed, 6], [r.profile, 5], [r.articlesAuthor, 5], [r.user, 4], [r.articlesFavorited, 2]
  ]
  const mixedRandom = rng(99)
  const w = writes(mixedRandom)
  const mixed = weighted<() => Call>([
    ...siteReads(reads(mixedRandom)),
    [w.favoriteOrNot, 2.5], [w.comment, 1.5], [w.createArticle, 1]
  ], mixedRandom)
  const readsRandom = rng(98)
  const mixedReads = weighted<() => Call>(siteReads(reads(readsRandom)), readsRandom)

  return [
    single(1, 'baseline', 'GET /health/live (no I/O): the ceiling', x => x.baseline),
    single(2, 'tags', 'GET /api/tags', x => x.tags),
    single(3, 'articles', 'GET /api/articles (home page, first page)', x => x.articles),
    single(4, 'articles-tag', 'GET /api/articles?tag=', x => x.articlesTag),
    single(5, 'articles-author', 'GET /api/articles?author=', x => x.articlesAuthor),
    single(6, 'articles-favorited', 'GET /api/articles?favorited=', x => x.articlesFavorited),
    single(7, 'article', 'GET /api/articles/:slug (30 % signed in)', x => x.article),
    single(12, 'article-anon', 'GET /api/articles/:slug, anonymous', x => x.articleAnon),
    single(13, 'article-anon-304', 'GET /api/articles/:slug, anonymous, If-None-Match with its last ETag (a browser revalidating)', x => x.articleAnon304),
    single(14, 'article-anon-br', 'GET /api/articles/:slug, anonymous, Accept-Encoding: gzip, deflate, br', x => x.articleAnonBr),
    single(15, 'articles-304', 'GET /api/articles (home page), anonymous, If-None-Match with its last ETag', x => x.articles304),
    single(16, 'articles-br', 'GET /api/articles (home page), anonymous, Accept-Encoding: gzip, deflate, br', x => x.articlesBr),
    single(8, 'comments', 'GET /api/articles/:slug/comments', x => x.comments),
    single(9, 'profile', 'GET /api/profiles/:username', x => x.profile),
    single(10, 'feed', 'GET /api/articles/feed (authenticated)', x => x.feed),
    single(11, 'user', 'GET /api/user (authenticated)', x => x.user),
    { name: 'mixed-reads', description: 'the reads of mixed alone, in the same shares (mixed without its writes)', next: () => mixedReads()() },
    { name: 'mixed', description: '95 % of the reads above, 5 % writes (favorite, comment, create article)', next: () => mixed()() }
  ]
}
