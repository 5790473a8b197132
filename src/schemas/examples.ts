// Examples for the OpenAPI document, taken from the demo data (what `npm start` serves), so
// Swagger UI shows and sends realistic values instead of ones it invents from the schemas.
import { DEMO_ARTICLES, DEMO_LOGIN, DEMO_USERS, demoSlug } from '../db/demo-seed.js'

const [jake, ana] = DEMO_USERS as [typeof DEMO_USERS[number], typeof DEMO_USERS[number]]
const [welcome] = DEMO_ARTICLES as [typeof DEMO_ARTICLES[number]]
const at = '2026-01-15T09:30:00.000Z'
const profile = (user: typeof jake, following: boolean) => ({ username: user.username, bio: user.bio, image: user.image, following })

export const PROFILE = profile(ana, true)
export const USER = {
  email: jake.email,
  token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOjEsImlhdCI6MTc2ODQ2OTQwMCwiZXhwIjoxNzY5MDc0MjAwfQ.kR4m0x2Qe3b1QkVvYy9nB7pQq6nJbZg1eWm8Qyq0Z5c',
  username: jake.username,
  bio: jake.bio,
  image: jake.image
}
const item = {
  slug: demoSlug(welcome.title),
  title: welcome.title,
  description: welcome.description,
  tagList: welcome.tags,
  createdAt: at,
  updatedAt: at,
  favorited: false,
  favoritesCount: welcome.favoritedBy.length,
  author: profile(jake, false)
}
export const ARTICLE_LIST_ITEM = item
export const ARTICLE = { ...item, body: welcome.body }
export const COMMENT = { id: 1, createdAt: at, updatedAt: at, body: welcome.comments[0]?.[1] ?? '', author: profile(ana, false) }
export const ERRORS = { errors: { email: ['has already been taken'] } }

export const NEW_USER = { user: { username: 'jake', email: DEMO_LOGIN.email, password: DEMO_LOGIN.password } }
export const LOGIN = { user: { email: DEMO_LOGIN.email, password: DEMO_LOGIN.password } }
export const UPDATE_USER = { user: { bio: jake.bio, image: 'https://api.realworld.io/images/smiley-cyrus.jpeg' } }
export const NEW_ARTICLE = { article: { title: welcome.title, description: welcome.description, body: welcome.body, tagList: welcome.tags } }
export const UPDATE_ARTICLE = { article: { description: 'A quicker tour of this demo instance' } }
export const NEW_COMMENT = { comment: { body: welcome.comments[1]?.[1] ?? '' } }
export const TAGS = { tags: [...new Set(DEMO_ARTICLES.flatMap(a => a.tags))] }
