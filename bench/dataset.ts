import { scryptSync } from 'node:crypto'
import { markdown, sentence, slugify, title } from './text.js'
import { intBetween, mulberry32, shuffled, zipf, type Random } from './zipf.js'

export const SEED = 20240601
export const PASSWORD = 'password'
const DAY_MS = 86400000

export const TAGS = [
  'javascript', 'typescript', 'node', 'react', 'postgres', 'performance', 'testing', 'devops',
  'css', 'security', 'rust', 'go', 'python', 'docker', 'kubernetes', 'architecture', 'api',
  'frontend', 'backend', 'career', 'databases', 'linux', 'vue', 'svelte', 'angular', 'graphql',
  'redis', 'caching', 'observability', 'cloud', 'aws', 'serverless', 'webassembly', 'design',
  'accessibility', 'mobile', 'tooling', 'git', 'opensource', 'productivity', 'algorithms',
  'networking', 'http', 'browsers', 'compilers', 'functional', 'concurrency', 'ml', 'startups',
  'writing'
]

export interface Counts {
  users: number
  articles: number
  favorites: number
  follows: number
  comments: number
}

/** Row counts at a scale: scale 1 is 1,000 users, 10,000 articles, 50,000 favorites… */
export function countsFor (scale: number): Counts {
  const n = (base: number, min: number) => Math.max(min, Math.round(base * scale))
  const users = n(1000, 10)
  return {
    users,
    articles: n(10000, 20),
    // Capped so duplicate-free pairs stay easy to draw on tiny scales.
    favorites: Math.min(n(50000, 20), Math.floor(users * n(10000, 20) * 0.2)),
    follows: Math.min(n(5000, 10), Math.floor(users * (users - 1) * 0.2)),
    comments: n(30000, 20)
  }
}

export interface Dataset {
  counts: Counts
  passwordHash: string
  users: { username: string[], email: string[], bio: string[], image: string[], createdAt: string[] }
  tags: string[]
  articles: {
    slug: string[]
    title: string[]
    description: string[]
    body: string[]
    authorId: number[]
    createdAt: string[]
    updatedAt: string[]
  }
  articleTags: { articleId: number[], tagId: number[] }
  favorites: { userId: number[], articleId: number[], createdAt: string[] }
  follows: { followerId: number[], followeeId: number[], createdAt: string[] }
  comments: { articleId: number[], authorId: number[], body: string[], createdAt: string[] }
}

/** The format of src/lib/password.ts, with a salt from the seeded generator so reruns match. */
export function passwordHash (random: Random): string {
  const N = 16384
  const r = 8
  const p = 1
  const salt = Buffer.from(Array.from({ length: 16 }, () => Math.floor(random() * 256)))
  const key = scryptSync(PASSWORD.normalize('NFKC'), salt, 32, { N, r, p, maxmem: 64 * 1024 * 1024 })
  return ['scrypt', N, r, p, salt.toString('base64'), key.toString('base64')].join('$')
}

/** A time between `from` and `to` (ms), biased towards recent: activity grows over the year. */
function between (random: Random, from: number, to: number): number {
  return from + (to - from) * Math.sqrt(random())
}

/** Distinct pairs (a, b), drawn until `count` are found. */
function distinctPairs (count: number, drawA: () => number, drawB: () => number, allowed: (a: number, b: number) => boolean): Array<[number, number]> {
  const seen = new Set<number>()
  const pairs: Array<[number, number]> = []
  let attempts = 0
  while (pairs.length < count) {
    if (++attempts > count * 100) throw new Error(`could not draw ${count} distinct pairs`)
    const a = drawA()
    const b = drawB()
    const key = a * 4194304 + b
    if (!allowed(a, b) || seen.has(key)) continue
    seen.add(key)
    pairs.push([a, b])
  }
  return pairs
}

/**
 * The whole data set, deterministic for a scale: ids are 1-based and given explicitly, and rows
 * are numbered in creation order so ids grow with created_at as they do in a live database.
 */
export function generate (scale: number, now = Date.now()): Dataset {
  const random = mulberry32(SEED)
  const counts = countsFor(scale)
  const yearAgo = now - 365 * DAY_MS
  const width = Math.max(4, String(counts.users).length)

  const userCreated = Array.from({ length: counts.users }, () => yearAgo + random() * (now - 30 * DAY_MS - yearAgo)).sort((a, b) => a - b)
  const users: Dataset['users'] = { username: [], email: [], bio: [], image: [], createdAt: [] }
  for (let i = 0; i < counts.users; i++) {
    const username = `user${String(i + 1).padStart(width, '0')}`
    users.username.push(username)
    users.email.push(`${username}@bench.local`)
    users.bio.push(random() < 0.6 ? sentence(random) : '')
    users.image.push(random() < 0.7 ? `https://bench.local/avatars/${username}.png` : '')
    users.createdAt.push(new Date(userCreated[i] as number).toISOString())
  }

  // Popularity orders (index 0 = hottest) decoupled from ids, so user0001 is not always the star.
  const userIds = Array.from({ length: counts.users }, (_, i) => i + 1)
  const authorsByFame = shuffled(userIds, random)
  const usersByActivity = shuffled(userIds, random)
  const drawAuthor = zipf(counts.users, 1.0, random)
  const drawActiveUser = zipf(counts.users, 0.7, random)
  const drawAnyUser = () => intBetween(random, 1, counts.users)
  const author = () => authorsByFame[drawAuthor()] as number
  const activeUser = () => usersByActivity[drawActiveUser()] as number

  const drafts = Array.from({ length: counts.articles }, () => {
    const authorId = author()
    return { authorId, created: between(random, userCreated[authorId - 1] as number, now) }
  }).sort((a, b) => a.created - b.created)
  const articles: Dataset['articles'] = { slug: [], title: [], description: [], body: [], authorId: [], createdAt: [], updatedAt: [] }
  const articleCreated: number[] = []
  drafts.forEach((draft, i) => {
    const heading = title(random)
    articles.slug.push(`${slugify(heading)}-${(i + 1).toString(36)}`)
    articles.title.push(heading)
    articles.description.push(sentence(random, 8, 20))
    articles.body.push(markdown(random, intBetween(random, 1024, 4096)))
    articles.authorId.push(draft.authorId)
    articles.createdAt.push(new Date(draft.created).toISOString())
    const edited = random() < 0.1 ? between(random, draft.created, now) : draft.created
    articles.updatedAt.push(new Date(edited).toISOString())
    articleCreated.push(draft.created)
  })

  const drawTag = zipf(TAGS.length, 1.1, random)
  const articleTags: Dataset['articleTags'] = { articleId: [], tagId: [] }
  for (let id = 1; id <= counts.articles; id++) {
    const chosen = new Set<number>()
    const n = intBetween(random, 1, 5)
    while (chosen.size < n) chosen.add(drawTag() + 1)
    for (const tagId of chosen) {
      articleTags.articleId.push(id)
      articleTags.tagId.push(tagId)
    }
  }

  const articleIds = Array.from({ length: counts.articles }, (_, i) => i + 1)
  const articlesByFame = shuffled(articleIds, random)
  const drawArticle = zipf(counts.articles, 0.8, random)
  const popularArticle = () => articlesByFame[drawArticle()] as number
  // Flatter than favorites: a hit article collects hundreds of likes but dozens of comments,
  // and the comments endpoint (unpaginated) returns them all.
  const drawDiscussed = zipf(counts.articles, 0.5, random)
  const discussedArticle = () => articlesByFame[drawDiscussed()] as number
  const after = (...times: number[]) => new Date(between(random, Math.max(...times), now)).toISOString()

  const favorites: Dataset['favorites'] = { userId: [], articleId: [], createdAt: [] }
  for (const [userId, articleId] of distinctPairs(counts.favorites, activeUser, popularArticle, () => true)) {
    favorites.userId.push(userId)
    favorites.articleId.push(articleId)
    favorites.createdAt.push(after(userCreated[userId - 1] as number, articleCreated[articleId - 1] as number))
  }

  const follows: Dataset['follows'] = { followerId: [], followeeId: [], createdAt: [] }
  for (const [followerId, followeeId] of distinctPairs(counts.follows, drawAnyUser, author, (a, b) => a !== b)) {
    follows.followerId.push(followerId)
    follows.followeeId.push(followeeId)
    follows.createdAt.push(after(userCreated[followerId - 1] as number, userCreated[followeeId - 1] as number))
  }

  const commentDrafts = Array.from({ length: counts.comments }, () => {
    const articleId = discussedArticle()
    const authorId = activeUser()
    const created = between(random, Math.max(articleCreated[articleId - 1] as number, userCreated[authorId - 1] as number), now)
    return { articleId, authorId, created, body: Array.from({ length: intBetween(random, 1, 3) }, () => sentence(random)).join(' ') }
  }).sort((a, b) => a.created - b.created)
  const comments: Dataset['comments'] = { articleId: [], authorId: [], body: [], createdAt: [] }
  for (const c of commentDrafts) {
    comments.articleId.push(c.articleId)
    comments.authorId.push(c.authorId)
    comments.body.push(c.body)
    comments.createdAt.push(new Date(c.created).toISOString())
  }

  return { counts, passwordHash: passwordHash(random), users, tags: TAGS, articles, articleTags, favorites, follows, comments }
}
