import type { Pool } from 'pg'

export function tagsRepository (pg: Pool) {
  return {
    /** Tags in use, most used first. */
    async list (): Promise<string[]> {
      const { rows } = await pg.query<{ name: string }>(
        `SELECT t.name FROM tags t JOIN article_tags at ON at.tag_id = t.id
         GROUP BY t.id, t.name ORDER BY count(*) DESC, t.name`
      )
      return rows.map(row => row.name)
    }
  }
}

export type TagsRepository = ReturnType<typeof tagsRepository>
