/**
 * Shape checks of the documented responses (openapi.yml): a fast wrong answer is a failure, so
 * sampled bodies must look like what a Conduit client would render. Each returns the first
 * problem found, or undefined.
 */
export type Check = (body: unknown) => string | undefined

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const isString = (v: unknown): v is string => typeof v === 'string'
const isStringArray = (v: unknown): boolean => Array.isArray(v) && v.every(isString)

function profileProblem (p: unknown, where: string): string | undefined {
  if (!isObject(p)) return `${where} is not an object`
  if (!isString(p.username) || p.username === '') return `${where}.username missing`
  if (!isString(p.bio) && p.bio !== null) return `${where}.bio is not a string`
  if (!isString(p.image) && p.image !== null) return `${where}.image is not a string`
  if (typeof p.following !== 'boolean') return `${where}.following is not a boolean`
  return undefined
}

function articleProblem (a: unknown, where: string, withBody: boolean): string | undefined {
  if (!isObject(a)) return `${where} is not an object`
  for (const key of ['slug', 'title', 'description', 'createdAt', 'updatedAt']) {
    if (!isString(a[key])) return `${where}.${key} is not a string`
  }
  if (!isStringArray(a.tagList)) return `${where}.tagList is not a string array`
  if (typeof a.favorited !== 'boolean') return `${where}.favorited is not a boolean`
  if (!Number.isInteger(a.favoritesCount)) return `${where}.favoritesCount is not an integer`
  if (withBody && !isString(a.body)) return `${where}.body is not a string`
  if (!withBody && 'body' in a) return `${where} has a body (list items must not)`
  return profileProblem(a.author, `${where}.author`)
}

export interface ListExpectations {
  tag?: string
  author?: string
  limit: number
}

export function articleList (expect: ListExpectations): Check {
  return body => {
    if (!isObject(body)) return 'not an object'
    const { articles, articlesCount } = body
    if (!Array.isArray(articles)) return 'articles is not an array'
    if (!Number.isInteger(articlesCount)) return 'articlesCount is not an integer'
    if (articles.length > expect.limit) return `${articles.length} articles for limit ${expect.limit}`
    if ((articlesCount as number) < articles.length) return 'articlesCount below the page length'
    let previous = Infinity
    for (let i = 0; i < articles.length; i++) {
      const a = articles[i] as Json
      const problem = articleProblem(a, `articles[${i}]`, false)
      if (problem) return problem
      const created = Date.parse(a.createdAt as string)
      if (created > previous) return 'articles are not newest first'
      previous = created
      if (expect.tag !== undefined && !(a.tagList as string[]).includes(expect.tag)) return `articles[${i}] lacks tag ${expect.tag}`
      if (expect.author !== undefined && (a.author as Json).username !== expect.author) return `articles[${i}] is not by ${expect.author}`
    }
    return undefined
  }
}

export function article (slug?: string, favorited?: boolean): Check {
  return body => {
    if (!isObject(body)) return 'not an object'
    const problem = articleProblem(body.article, 'article', true)
    if (problem) return problem
    const a = body.article as Json
    if (slug !== undefined && a.slug !== slug) return `slug ${String(a.slug)} instead of ${slug}`
    if (favorited !== undefined && a.favorited !== favorited) return `favorited is ${String(a.favorited)}, expected ${favorited}`
    return undefined
  }
}

function commentProblem (c: unknown, where: string): string | undefined {
  if (!isObject(c)) return `${where} is not an object`
  if (!Number.isInteger(c.id)) return `${where}.id is not an integer`
  for (const key of ['body', 'createdAt', 'updatedAt']) {
    if (!isString(c[key])) return `${where}.${key} is not a string`
  }
  return profileProblem(c.author, `${where}.author`)
}

export const comments: Check = body => {
  if (!isObject(body) || !Array.isArray(body.comments)) return 'comments is not an array'
  for (let i = 0; i < body.comments.length; i++) {
    const problem = commentProblem(body.comments[i], `comments[${i}]`)
    if (problem) return problem
  }
  return undefined
}

export function comment (text: string): Check {
  return body => {
    if (!isObject(body)) return 'not an object'
    const problem = commentProblem(body.comment, 'comment')
    if (problem) return problem
    return (body.comment as Json).body === text ? undefined : 'comment body differs from the one sent'
  }
}

export function profile (username: string): Check {
  return body => {
    if (!isObject(body)) return 'not an object'
    const problem = profileProblem(body.profile, 'profile')
    if (problem) return problem
    return (body.profile as Json).username === username ? undefined : `profile of ${String((body.profile as Json).username)} instead of ${username}`
  }
}

export function user (username: string): Check {
  return body => {
    if (!isObject(body) || !isObject(body.user)) return 'user is not an object'
    const u = body.user
    for (const key of ['email', 'token', 'username']) {
      if (!isString(u[key])) return `user.${key} is not a string`
    }
    return u.username === username ? undefined : `user ${String(u.username)} instead of ${username}`
  }
}

export const tags: Check = body => {
  if (!isObject(body) || !isStringArray(body.tags)) return 'tags is not a string array'
  return (body.tags as string[]).length > 0 ? undefined : 'no tags'
}

export const health: Check = body => isObject(body) && body.status === 'ok' ? undefined : 'status is not ok'
