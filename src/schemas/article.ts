import { Type } from 'typebox'
import { ARTICLE, ARTICLE_LIST_ITEM, NEW_ARTICLE, UPDATE_ARTICLE } from './examples.js'
import { Profile } from './profile.js'
import { ref } from './ref.js'

// At least one non-space character: a title of spaces is as blank as an empty one.
const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '\\S' })
const TagList = Type.Array(Type.String({ minLength: 1, maxLength: 64, pattern: '\\S' }), { maxItems: 20 })

const articleFields = {
  slug: Type.String(),
  title: Type.String(),
  description: Type.String(),
  tagList: Type.Array(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  favorited: Type.Boolean(),
  favoritesCount: Type.Integer(),
  author: ref(Profile)
}

export const Article = Type.Object({ ...articleFields, body: Type.String() }, { $id: 'Article', examples: [ARTICLE] })

export const ArticleResponse = Type.Object({ article: ref(Article) })

/** List items carry no body (API v1.1.0). */
export const ArticleListItem = Type.Object(articleFields, { $id: 'ArticleListItem', examples: [ARTICLE_LIST_ITEM] })

export const MultipleArticles = Type.Object({
  articles: Type.Array(ref(ArticleListItem)),
  articlesCount: Type.Integer()
})

export const SlugParams = Type.Object({ slug: Type.String({ minLength: 1, maxLength: 255 }) })

const Page = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  offset: Type.Integer({ minimum: 0, maximum: 1000000, default: 0 })
}
const Name = Type.String({ minLength: 1, maxLength: 100 })

export const FeedQuery = Type.Object(Page)
export const ListQuery = Type.Object({
  ...Page,
  tag: Type.Optional(Name),
  author: Type.Optional(Name),
  favorited: Type.Optional(Name)
})

export const NewArticleBody = Type.Object({
  article: Type.Object({
    title: Text(200),
    description: Text(1000),
    body: Text(100000),
    tagList: Type.Optional(Type.Union([TagList, Type.Null()]))
  })
}, { examples: [NEW_ARTICLE] })

// tagList is not in the v1.1.0 UpdateArticle model, but frontends' editors send it and expect it
// to stick; anything else (slug, author, counts, dates) is stripped by additionalProperties.
export const UpdateArticleBody = Type.Object({
  article: Type.Object({
    title: Type.Optional(Text(200)),
    description: Type.Optional(Text(1000)),
    body: Type.Optional(Text(100000)),
    tagList: Type.Optional(Type.Union([TagList, Type.Null()]))
  }, { additionalProperties: false })
}, { examples: [UPDATE_ARTICLE] })
