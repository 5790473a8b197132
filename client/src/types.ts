// The API's request and response types: Static<> of the TypeBox schemas the routes validate and
// serialize with (src/schemas), imported as types only, so a change there changes these types.
import type { Static } from 'typebox'
import type * as article from '../../src/schemas/article.js'
import type * as comment from '../../src/schemas/comment.js'
import type * as error from '../../src/schemas/errors.js'
import type * as idempotency from '../../src/schemas/idempotency.js'
import type * as profile from '../../src/schemas/profile.js'
import type * as tag from '../../src/schemas/tag.js'
import type * as user from '../../src/schemas/user.js'

// The response bodies, as sent.
export type UserResponse = Static<typeof user.UserResponse>
export type ProfileResponse = Static<typeof profile.ProfileResponse>
export type ArticleResponse = Static<typeof article.ArticleResponse>
export type MultipleArticles = Static<typeof article.MultipleArticles>
export type CommentResponse = Static<typeof comment.CommentResponse>
export type MultipleComments = Static<typeof comment.MultipleComments>
export type TagsResponse = Static<typeof tag.TagsResponse>
export type ErrorBody = Static<typeof error.ErrorBody>

// What the client's methods return: the resource inside its envelope.
export type User = UserResponse['user']
export type Profile = ProfileResponse['profile']
export type Article = ArticleResponse['article']
export type ArticleListItem = MultipleArticles['articles'][number]
export type Comment = CommentResponse['comment']

// What they take: the object inside the request body's envelope.
export type NewUser = Static<typeof user.NewUserBody>['user']
export type LoginUser = Static<typeof user.LoginBody>['user']
export type UpdateUser = Static<typeof user.UpdateUserBody>['user']
export type NewArticle = Static<typeof article.NewArticleBody>['article']
export type UpdateArticle = Static<typeof article.UpdateArticleBody>['article']
export type NewComment = Static<typeof comment.NewCommentBody>['comment']

/** Keys K of T made optional: the server fills them in with the schema's `default`. */
type Defaulted<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>
export type ArticlesQuery = Defaulted<Static<typeof article.ListQuery>, 'limit' | 'offset'>
export type FeedQuery = Defaulted<Static<typeof article.FeedQuery>, 'limit' | 'offset'>

export interface CreateOptions {
  /** Sent as `Idempotency-Key`: a retry with the same key gets the first request's resource. */
  idempotencyKey?: Static<typeof idempotency.IdempotencyHeaders>['idempotency-key']
}
