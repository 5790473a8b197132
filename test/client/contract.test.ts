import Fastify, { type RouteOptions } from 'fastify'
import t from 'tap'
import type { Static } from 'typebox'
import { createClient, type ArticleListItem, type ConduitClient, type ConduitError } from '../../client/src/index.js'
import app from '../../src/app.js'
import * as article from '../../src/schemas/article.js'
import * as comment from '../../src/schemas/comment.js'
import { IdempotencyHeaders } from '../../src/schemas/idempotency.js'
import * as profile from '../../src/schemas/profile.js'
import * as tag from '../../src/schemas/tag.js'
import * as user from '../../src/schemas/user.js'
import { serverOptions } from '../../src/server-options.js'
import { createTestDatabase, testConfig } from '../helper.js'

// The client cannot drift from the routes: each route validates and serializes with the very
// schema objects the client's types are Static<> of (checked here at run time), and the client's
// methods take and return those types (checked at compile time by `npm run typecheck`, below).

/** Per operationId: the schemas client/src/types.ts derives that operation's types from. */
const CONTRACT: Record<string, { body?: object, querystring?: object, headers?: object, response?: object }> = {
  Login: { body: user.LoginBody, response: user.UserResponse },
  CreateUser: { body: user.NewUserBody, headers: IdempotencyHeaders, response: user.UserResponse },
  GetCurrentUser: { response: user.UserResponse },
  UpdateCurrentUser: { body: user.UpdateUserBody, response: user.UserResponse },
  GetProfileByUsername: { response: profile.ProfileResponse },
  FollowUserByUsername: { response: profile.ProfileResponse },
  UnfollowUserByUsername: { response: profile.ProfileResponse },
  GetArticles: { querystring: article.ListQuery, response: article.MultipleArticles },
  GetArticlesFeed: { querystring: article.FeedQuery, response: article.MultipleArticles },
  GetArticle: { response: article.ArticleResponse },
  CreateArticle: { body: article.NewArticleBody, headers: IdempotencyHeaders, response: article.ArticleResponse },
  UpdateArticle: { body: article.UpdateArticleBody, response: article.ArticleResponse },
  DeleteArticle: {},
  CreateArticleFavorite: { response: article.ArticleResponse },
  DeleteArticleFavorite: { response: article.ArticleResponse },
  GetArticleComments: { response: comment.MultipleComments },
  CreateArticleComment: { body: comment.NewCommentBody, headers: IdempotencyHeaders, response: comment.CommentResponse },
  DeleteArticleComment: {},
  GetTags: { response: tag.TagsResponse }
}

t.test('every API route uses the schemas the client is typed with, and has its client method', async t => {
  const routes: RouteOptions[] = []
  const config = testConfig()
  const server = Fastify(serverOptions(config))
  server.addHook('onRoute', route => { routes.push(route) })
  await server.register(app, { config: { ...config, DATABASE_URL: await createTestDatabase(t) } })
  t.teardown(() => server.close())

  const api = routes.filter(route => route.url.startsWith('/api/') && route.method !== 'HEAD')
  const operations = api.map(route => (route.schema as { operationId: string }).operationId)
  t.same(operations.toSorted(), Object.keys(CONTRACT).toSorted(), 'one contract entry per API route')

  const client = createClient({ baseUrl: 'http://127.0.0.1:1/api' })
  const methods = operations.map(id => id[0]?.toLowerCase() + id.slice(1))
  t.same(Object.keys(client).filter(key => key !== 'token' && key !== 'setToken').toSorted(), methods.toSorted(),
    'one client method per operation, named after its operationId')

  for (const route of api) {
    const schema = route.schema as Record<string, unknown> & { operationId: string, response: Record<string, unknown> }
    const expected = CONTRACT[schema.operationId] ?? {}
    const success = Object.keys(schema.response).find(status => status.startsWith('2')) ?? ''
    t.equal(schema.body, expected.body, `${schema.operationId}: body`)
    t.equal(schema.querystring, expected.querystring, `${schema.operationId}: querystring`)
    if (expected.headers !== undefined) t.equal(schema.headers, expected.headers, `${schema.operationId}: headers`)
    if (success !== '204') t.equal(schema.response[success], expected.response, `${schema.operationId}: ${success} response`)
  }
})

// Compile-time checks: `npm run typecheck` fails if a method's types stop being the schemas'.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
type IsAny<T> = 0 extends 1 & T ? true : false
type Expect<T extends true> = T
type Result<K extends keyof ConduitClient> = ConduitClient[K] extends (...args: never[]) => Promise<infer R> ? R : never
type AnyIn<F> = F extends (...args: infer A) => Promise<infer R> ? IsAny<R> | IsAny<A[number]> : IsAny<F>

export type Checks = [
  Expect<Equal<Result<'getArticle'>['body'], Static<typeof article.ArticleResponse>['article']>>,
  Expect<Equal<Result<'getArticles'>['body'], Static<typeof article.MultipleArticles>>>,
  Expect<Equal<Result<'getArticleComments'>['body'], Static<typeof comment.MultipleComments>['comments']>>,
  Expect<Equal<Result<'getProfileByUsername'>['body'], Static<typeof profile.ProfileResponse>['profile']>>,
  Expect<Equal<Result<'getTags'>['body'], Static<typeof tag.TagsResponse>['tags']>>,
  Expect<Equal<Result<'login'>, Static<typeof user.UserResponse>['user']>>,
  Expect<Equal<Result<'createArticleComment'>, Static<typeof comment.CommentResponse>['comment']>>,
  Expect<Equal<Parameters<ConduitClient['createArticle']>[0], Static<typeof article.NewArticleBody>['article']>>,
  Expect<Equal<Parameters<ConduitClient['updateCurrentUser']>[0], Static<typeof user.UpdateUserBody>['user']>>,
  Expect<Equal<ConduitError['errors'], Record<string, string[]>>>,
  // No method takes or returns `any`.
  Expect<Equal<{ [K in keyof ConduitClient]: true extends AnyIn<ConduitClient[K]> ? K : never }[keyof ConduitClient], never>>
]

// What a frontend must not be able to write (each line fails to compile without its directive).
export function mistakes (client: ConduitClient, item: ArticleListItem) {
  return [
    // @ts-expect-error list items carry no body
    item.body,
    // @ts-expect-error limit is an integer, not a string
    client.getArticles({ limit: '10' }),
    // @ts-expect-error no such query parameter
    client.getArticles({ page: 2 }),
    // @ts-expect-error the feed has no filters
    client.getArticlesFeed({ tag: 'x' }),
    // @ts-expect-error an article needs a body
    client.createArticle({ title: 't', description: 'd' }),
    // @ts-expect-error the slug follows the title, it is not set
    client.updateArticle('slug', { slug: 'mine' }),
    // @ts-expect-error a comment id is a number
    client.deleteArticleComment('slug', '1')
  ]
}
