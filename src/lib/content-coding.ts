// Content codings the service compresses JSON with, chosen from Accept-Encoding exactly as
// @fastify/compress chooses (its negotiator, its order, its brotli quality), so a body compressed
// ahead of time (a cached response's kept form) is the one the plugin would have sent.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { negotiate as negotiateWith } from '@fastify/accept-negotiator'

/** In order of preference. */
export const CODINGS = ['br', 'gzip'] as const
export type Coding = typeof CODINGS[number]

/** @fastify/compress's default: quality 11 costs ~10× the CPU for a few % fewer bytes on JSON. */
export const BROTLI_OPTIONS = { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } }

// "*" and x-gzip stand for gzip, as in @fastify/compress.
const GZIP_ALIAS = /\*|x-gzip/gu

/** The coding to send for this Accept-Encoding, or undefined for the body as it is. */
export function negotiateCoding (acceptEncoding: string | undefined): Coding | undefined {
  if (acceptEncoding === undefined) return undefined
  const coding = negotiateWith(acceptEncoding.toLowerCase().replace(GZIP_ALIAS, 'gzip'), [...CODINGS])
  return coding === null ? undefined : coding as Coding
}

export function encode (body: string, coding: Coding): Buffer {
  return coding === 'br' ? brotliCompressSync(body, BROTLI_OPTIONS) : gzipSync(body)
}
