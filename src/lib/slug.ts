import { randomBytes } from 'node:crypto'

/**
 * A URL-safe, unique slug: the title folded to ASCII words plus a random suffix, so the same
 * title twice gives two slugs without a read-then-write race.
 */
export function slugify (title: string): string {
  const words = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80)
    .replace(/-+$/, '')
  return `${words || 'article'}-${randomBytes(4).toString('hex')}`
}
