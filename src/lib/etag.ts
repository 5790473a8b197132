// Entity tags of response bodies and the If-None-Match test (RFC 9110 §8.8.3, §13.1.2). A tag
// is a hash of the exact bytes of the JSON document; a compressed form of it gets the same tag
// with the coding appended (`"<hash>-br"`), since a strong tag names one representation.
import { createHash } from 'node:crypto'

/** The strong tag of `body`: 128 bits of its SHA-1, quoted. */
export function etagOf (body: string | Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url').slice(0, 22)}"`
}

/** The tag of `etag`'s document in a content coding (`br`, `gzip`); identity keeps it as it is. */
export function codedEtag (etag: string, coding: string | undefined): string {
  return coding === undefined || coding === 'identity' ? etag : `${etag.slice(0, -1)}-${coding}"`
}

/**
 * The tag of If-None-Match that names `etag`'s document in any coding (weak comparison, as the
 * RFC asks for If-None-Match), or undefined when none does and the body must be sent.
 */
export function matchingTag (ifNoneMatch: string | undefined, etag: string): string | undefined {
  if (ifNoneMatch === undefined) return undefined
  if (ifNoneMatch.trim() === '*') return etag
  const document = etag.slice(0, -1)
  for (const raw of ifNoneMatch.split(',')) {
    const tag = raw.trim().replace(/^W\//, '')
    if (tag === etag || (tag.startsWith(document) && /^-[a-z]+"$/.test(tag.slice(document.length)))) return tag
  }
  return undefined
}
