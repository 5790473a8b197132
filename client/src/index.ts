// The typed Conduit client: one method per API operation, named after its operationId in the
// OpenAPI document (/docs), taking and returning the types of src/schemas (./types.ts).
import { createTransport, withQuery, type ClientOptions, type Fetched, type Snapshot } from './http.js'
import type {
  Article, ArticleResponse, ArticlesQuery, Comment, CommentResponse, CreateOptions, FeedQuery, LoginUser,
  MultipleArticles, MultipleComments, NewArticle, NewComment, NewUser, Profile, ProfileResponse, TagsResponse,
  UpdateArticle, UpdateUser, User, UserResponse
} from './types.js'

export { ConduitError, type ClientOptions, type Fetch, type Fetched, type Snapshot } from './http.js'
export type * from './types.js'

const article = (slug: string) => `/articles/${encodeURIComponent(slug)}`
const profile = (username: string) => `/profiles/${encodeURIComponent(username)}`
const same = <T>(body: T) => body

export function createClient (options: ClientOptions) {
  const http = createTransport(options)

  // Every answer that carries a user carries its current token: the client keeps using it.
  async function signIn (pending: Promise<UserResponse>): Promise<User> {
    const { user } = await pending
    http.setToken(user.token)
    return user
  }

  return {
    /** The JWT sent as `Authorization: Token <jwt>`, or null when anonymous. */
    get token () { return http.token },
    setToken: http.setToken,

    // Users
    login: (user: LoginUser): Promise<User> => signIn(http.send('POST', '/users/login', { user })),
    createUser: (user: NewUser, options: CreateOptions = {}): Promise<User> =>
      signIn(http.send('POST', '/users', { user }, options.idempotencyKey)),
    getCurrentUser: async (): Promise<User> =>
      (await http.get('/user', (body: UserResponse) => body.user)).body,
    updateCurrentUser: (user: UpdateUser): Promise<User> => signIn(http.send('PUT', '/user', { user })),

    // Profiles
    getProfileByUsername: (username: string, cached?: Snapshot<Profile>): Promise<Fetched<Profile>> =>
      http.get(profile(username), (body: ProfileResponse) => body.profile, cached),
    followUserByUsername: async (username: string): Promise<Profile> =>
      (await http.send<ProfileResponse>('POST', `${profile(username)}/follow`)).profile,
    unfollowUserByUsername: async (username: string): Promise<Profile> =>
      (await http.send<ProfileResponse>('DELETE', `${profile(username)}/follow`)).profile,

    // Articles
    getArticles: (query: ArticlesQuery = {}, cached?: Snapshot<MultipleArticles>): Promise<Fetched<MultipleArticles>> =>
      http.get(withQuery('/articles', query), same<MultipleArticles>, cached),
    getArticlesFeed: (query: FeedQuery = {}, cached?: Snapshot<MultipleArticles>): Promise<Fetched<MultipleArticles>> =>
      http.get(withQuery('/articles/feed', query), same<MultipleArticles>, cached),
    getArticle: (slug: string, cached?: Snapshot<Article>): Promise<Fetched<Article>> =>
      http.get(article(slug), (body: ArticleResponse) => body.article, cached),
    createArticle: async (fields: NewArticle, options: CreateOptions = {}): Promise<Article> =>
      (await http.send<ArticleResponse>('POST', '/articles', { article: fields }, options.idempotencyKey)).article,
    updateArticle: async (slug: string, fields: UpdateArticle): Promise<Article> =>
      (await http.send<ArticleResponse>('PUT', article(slug), { article: fields })).article,
    deleteArticle: (slug: string): Promise<void> => http.send('DELETE', article(slug)),

    // Favorites
    createArticleFavorite: async (slug: string): Promise<Article> =>
      (await http.send<ArticleResponse>('POST', `${article(slug)}/favorite`)).article,
    deleteArticleFavorite: async (slug: string): Promise<Article> =>
      (await http.send<ArticleResponse>('DELETE', `${article(slug)}/favorite`)).article,

    // Comments
    getArticleComments: (slug: string, cached?: Snapshot<Comment[]>): Promise<Fetched<Comment[]>> =>
      http.get(`${article(slug)}/comments`, (body: MultipleComments) => body.comments, cached),
    createArticleComment: async (slug: string, comment: NewComment, options: CreateOptions = {}): Promise<Comment> =>
      (await http.send<CommentResponse>('POST', `${article(slug)}/comments`, { comment }, options.idempotencyKey)).comment,
    deleteArticleComment: (slug: string, id: number): Promise<void> =>
      http.send('DELETE', `${article(slug)}/comments/${id}`),

    // Tags
    getTags: (cached?: Snapshot<string[]>): Promise<Fetched<string[]>> => http.get('/tags', (body: TagsResponse) => body.tags, cached)
  }
}

export type ConduitClient = ReturnType<typeof createClient>
