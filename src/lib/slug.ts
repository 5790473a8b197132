import { randomBytes } from 'node:crypto'

/**
 * A URL-safe, unique slug: the title folded to ASCII words plus a random suffix, so the same
 * title twice gives two slugs without a read-then-write race.
 */
// Letters NFKD does not decompose into ASCII.
const FOLD: Record<string, string> = { ß: 'ss', æ: 'ae', ø: 'o', œ: 'oe', đ: 'd', ł: 'l', þ: 'th', ð: 'd' }

export function slugify (title: string): string {
  const words = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[ßæøœđłþð]/g, letter => FOLD[letter] ?? '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80)
    .replace(/-+$/, '')
  return `${words || 'article'}-${randomBytes(4).toString('hex')}`
}
