import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ArticleNotFound, NotArticleAuthor } from '../errors.js'
import { toArticle } from '../lib/present.js'
import { slugify } from '../lib/slug.js'
import type { ArticleFilter } from '../repositories/articles.js'
import {
  ArticleResponse, FeedQuery, ListQuery, MultipleArticles, NewArticleBody, SlugParams, UpdateArticleBody
} from '../schemas/article.js'
import { errors } from '../schemas/errors.js'
import { IdempotencyHeaders } from '../schemas/idempotency.js'

/** Sorted and without duplicates, as the list responses show them. */
function normaliseTags (tagList: string[] | null | undefined): string[] | undefined {
  if (tagList === undefined) return undefined
  return [...new Set((tagList ?? []).map(tag => tag.trim()))].sort()
}

const articles: FastifyPluginAsyncTypebox = async app => {
  const { articles, relations } = app.repos

  async function page (filter: ArticleFilter, limit: number, offset: number, viewerId: number | null) {
    const { ids, total } = await articles.listPage(filter, limit, offset)
    const rows = await articles.findListItems(ids)
    const viewer = await relations.forViewer(viewerId, ids, rows.map(row => row.authorId))
    return { articles: rows.map(row => toArticle(row, viewer)), articlesCount: total }
  }

  async function find (slug: string, viewerId: number | null = null) {
    const row = await articles.findBySlug(slug, viewerId)
    if (row === undefined) throw new ArticleNotFound()
    return row
  }

  // An uncached read brings the viewer's flags with the article (one round trip); a cached one
  // leaves them to the cached per-viewer sets.
  async function present (slug: string, viewerId: number | null) {
    const row = await find(slug, viewerId)
    const viewer = row.viewer ?? await relations.forViewer(viewerId, [row.id], [row.authorId])
    return { article: toArticle(row, viewer) }
  }

  // After a favorite or unfavorite: the article's id, slug and author did not change, so its
  // reload and the viewer's flags (both just invalidated) are read at once, not one after the other.
  async function presentFavorited (before: { id: number, slug: string, authorId: number }, viewerId: number) {
    const [row, viewer] = await Promise.all([find(before.slug), relations.forViewer(viewerId, [before.id], [before.authorId])])
    return { article: toArticle(row, viewer) }
  }

  async function findOwned (slug: string, userId: number) {
    const row = await find(slug)
    if (row.authorId !== userId) throw new NotArticleAuthor()
    return row
  }

  app.get('/articles', {
    onRequest: app.auth.optional,
    schema: {
      tags: ['Articles'],
      summary: 'Recent articles, newest first; filter by tag, author or favorited',
      operationId: 'GetArticles',
      querystring: ListQuery,
      response: { 200: MultipleArticles, ...errors(401, 422) }
    }
  }, async request => {
    const { tag, author, favorited, limit, offset } = request.query
    return page({ tag, author, favorited }, limit, offset, request.userId)
  })

  app.get('/articles/feed', {
    onRequest: app.auth.required,
    schema: {
      tags: ['Articles'],
      summary: 'Recent articles by followed users',
      operationId: 'GetArticlesFeed',
      querystring: FeedQuery,
      response: { 200: MultipleArticles, ...errors(401, 422) }
    }
  }, async request => {
    const { limit, offset } = request.query
    return page({ followedBy: request.userId as number }, limit, offset, request.userId)
  })

  app.get('/articles/:slug', {
    onRequest: app.auth.optional,
    schema: {
      tags: ['Articles'],
      summary: 'Get an article',
      operationId: 'GetArticle',
      params: SlugParams,
      response: { 200: ArticleResponse, ...errors(401, 404, 422) }
    }
  }, async request => present(request.params.slug, request.userId))

  app.post('/articles', {
    onRequest: app.auth.required,
    schema: {
      tags: ['Articles'],
      summary: 'Create an article',
      operationId: 'CreateArticle',
      headers: IdempotencyHeaders,
      body: NewArticleBody,
      response: { 201: ArticleResponse, ...errors(401, 422) }
    }
  }, async (request, reply) => {
    const userId = request.userId as number
    const { title, description, body, tagList } = request.body.article
    const fields = { title, description, body, tagList: normaliseTags(tagList) ?? [] }
    const slug = await app.idempotency.once(request, {
      scope: `user:${userId}`,
      fields,
      async create (key) {
        const slug = slugify(title)
        await articles.create(userId, { slug, ...fields }, key)
        return slug
      },
      async replay (id) {
        const [row] = await articles.findListItems([id])
        if (row === undefined) throw new ArticleNotFound()
        return row.slug
      }
    })
    return reply.code(201).send(await present(slug, request.userId))
  })

  app.put('/articles/:slug', {
    onRequest: app.auth.required,
    schema: {
      tags: ['Articles'],
      summary: 'Update an article (its author only)',
      operationId: 'UpdateArticle',
      params: SlugParams,
      body: UpdateArticleBody,
      response: { 200: ArticleResponse, ...errors(401, 403, 404, 422) }
    }
  }, async request => {
    const row = await findOwned(request.params.slug, request.userId as number)
    const { title, description, body, tagList } = request.body.article
    // A new title gets a new slug; the same title keeps the old one.
    const slug = title !== undefined && title !== row.title ? slugify(title) : row.slug
    await articles.update(row.id, { slug, title, description, body, tagList: normaliseTags(tagList) })
    return present(slug, request.userId)
  })

  app.delete('/articles/:slug', {
    onRequest: app.auth.required,
    schema: {
      tags: ['Articles'],
      summary: 'Delete an article (its author only), with its comments and favorites',
      operationId: 'DeleteArticle',
      params: SlugParams,
      response: { 204: Type.Null({ description: 'Deleted' }), ...errors(401, 403, 404, 422) }
    }
  }, async (request, reply) => {
    const row = await findOwned(request.params.slug, request.userId as number)
    await articles.remove(row.id)
    return reply.code(204).send(null)
  })

  const favoriteSchema = (summary: string, operationId: string) => ({
    tags: ['Favorites'],
    summary,
    operationId,
    params: SlugParams,
    response: { 200: ArticleResponse, ...errors(401, 404, 422) }
  })

  app.post('/articles/:slug/favorite', {
    onRequest: app.auth.required,
    schema: { ...favoriteSchema('Favorite an article', 'CreateArticleFavorite'), headers: IdempotencyHeaders }
  }, async request => {
    const row = await find(request.params.slug)
    await articles.favorite(request.userId as number, row.id)
    return presentFavorited(row, request.userId as number)
  })

  app.delete('/articles/:slug/favorite', {
    onRequest: app.auth.required,
    schema: favoriteSchema('Unfavorite an article', 'DeleteArticleFavorite')
  }, async request => {
    const row = await find(request.params.slug)
    await articles.unfavorite(request.userId as number, row.id)
    return presentFavorited(row, request.userId as number)
  })
}

export default articles
