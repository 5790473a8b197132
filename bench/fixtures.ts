import { withClient } from './db.js'

export interface UserRef {
  id: number
  username: string
  email: string
}

/** What the scenarios draw from, each list hottest first (index 0 gets the most traffic). */
export interface Fixtures {
  /** every article, most favorited first */
  slugs: string[]
  /** tags in use, most used first */
  tags: string[]
  /** users with articles, most followed first */
  authors: string[]
  /** users who favorited something, most favorites first */
  favoriters: string[]
  /** every user, most followers first (profile views follow fame) */
  profiles: string[]
  /** every user, those following the most authors first (feed readers) */
  readers: UserRef[]
  /** every user, most active (favorites + comments) first: who writes */
  writers: UserRef[]
}

export async function readFixtures (url: string): Promise<Fixtures> {
  return withClient(url, async client => {
    const column = async <T>(sql: string): Promise<T[]> => (await client.query<{ v: T }>(sql)).rows.map(row => row.v)
    const users = async (sql: string): Promise<UserRef[]> => (await client.query<UserRef>(sql)).rows
    return {
      slugs: await column(`SELECT a.slug AS v FROM articles a
        LEFT JOIN (SELECT article_id, count(*) AS n FROM favorites GROUP BY article_id) f ON f.article_id = a.id
        ORDER BY COALESCE(f.n, 0) DESC, a.id`),
      tags: await column(`SELECT t.name AS v FROM tags t JOIN article_tags at ON at.tag_id = t.id
        GROUP BY t.id ORDER BY count(*) DESC, t.name`),
      authors: await column(`SELECT u.username AS v FROM users u
        LEFT JOIN (SELECT followee_id, count(*) AS n FROM follows GROUP BY followee_id) f ON f.followee_id = u.id
        WHERE EXISTS (SELECT 1 FROM articles a WHERE a.author_id = u.id)
        ORDER BY COALESCE(f.n, 0) DESC, u.id`),
      favoriters: await column(`SELECT u.username AS v FROM users u
        JOIN (SELECT user_id, count(*) AS n FROM favorites GROUP BY user_id) f ON f.user_id = u.id
        ORDER BY f.n DESC, u.id`),
      profiles: await column(`SELECT u.username AS v FROM users u
        LEFT JOIN (SELECT followee_id, count(*) AS n FROM follows GROUP BY followee_id) f ON f.followee_id = u.id
        ORDER BY COALESCE(f.n, 0) DESC, u.id`),
      readers: await users(`SELECT u.id, u.username, u.email FROM users u
        LEFT JOIN (SELECT follower_id, count(*) AS n FROM follows GROUP BY follower_id) f ON f.follower_id = u.id
        ORDER BY COALESCE(f.n, 0) DESC, u.id`),
      writers: await users(`SELECT u.id, u.username, u.email FROM users u
        LEFT JOIN (SELECT user_id, count(*) AS n FROM favorites GROUP BY user_id) f ON f.user_id = u.id
        LEFT JOIN (SELECT author_id, count(*) AS n FROM comments GROUP BY author_id) c ON c.author_id = u.id
        ORDER BY COALESCE(f.n, 0) + COALESCE(c.n, 0) DESC, u.id`)
    }
  })
}
