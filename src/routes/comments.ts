import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ArticleNotFound, CommentNotFound, NotCommentAuthor } from '../errors.js'
import { toComment } from '../lib/present.js'
import { SlugParams } from '../schemas/article.js'
import { CommentParams, CommentResponse, MultipleComments, NewCommentBody } from '../schemas/comment.js'
import { errors } from '../schemas/errors.js'
import { IdempotencyHeaders } from '../schemas/idempotency.js'

const tags = ['Comments']

const comments: FastifyPluginAsyncTypebox = async app => {
  const { articles, comments, relations } = app.repos

  async function articleId (slug: string): Promise<number> {
    const row = await articles.findBySlug(slug)
    if (row === undefined) throw new ArticleNotFound()
    return row.id
  }

  app.get('/articles/:slug/comments', {
    onRequest: app.auth.optional,
    schema: {
      tags,
      summary: "An article's comments, newest first",
      operationId: 'GetArticleComments',
      params: SlugParams,
      response: { 200: MultipleComments, ...errors(401, 404, 422) }
    }
  }, async request => {
    const rows = await comments.listByArticle(await articleId(request.params.slug))
    const viewer = await relations.forViewer(request.userId, [], rows.map(row => row.authorId))
    return { comments: rows.map(row => toComment(row, viewer)) }
  })

  app.post('/articles/:slug/comments', {
    onRequest: app.auth.required,
    schema: {
      tags,
      summary: 'Comment on an article',
      operationId: 'CreateArticleComment',
      params: SlugParams,
      headers: IdempotencyHeaders,
      body: NewCommentBody,
      response: { 200: CommentResponse, ...errors(401, 404, 422) }
    }
  }, async request => {
    const userId = request.userId as number
    const id = await articleId(request.params.slug)
    const { body } = request.body.comment
    const row = await app.idempotency.once(request, {
      scope: `user:${userId}`,
      fields: { articleId: id, body },
      create: key => comments.create(id, userId, body, key),
      async replay (commentId) {
        const row = await comments.findById(commentId)
        if (row === undefined) throw new CommentNotFound()
        return row
      }
    })
    // Commenting does not change whether you follow yourself: the author is the viewer.
    return { comment: toComment(row, { favorited: new Set(), following: new Set() }) }
  })

  app.delete('/articles/:slug/comments/:id', {
    onRequest: app.auth.required,
    schema: {
      tags,
      summary: 'Delete a comment (its author only)',
      operationId: 'DeleteArticleComment',
      params: CommentParams,
      response: { 204: Type.Null({ description: 'Deleted' }), ...errors(401, 403, 404, 422) }
    }
  }, async (request, reply) => {
    const comment = await comments.findInArticle(await articleId(request.params.slug), request.params.id)
    if (comment === undefined) throw new CommentNotFound()
    if (comment.authorId !== request.userId) throw new NotCommentAuthor()
    await comments.remove(comment.id)
    return reply.code(204).send(null)
  })
}

export default comments
