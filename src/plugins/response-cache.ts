// Whole responses to anonymous GETs, kept in the hot tier with their tag and, once asked for,
// their compressed forms: a hit runs no handler, no I/O, no serialization, no hashing, and
// compresses a body once rather than on every hit. An entry holds the cache keys its response
// was built from, so any change to them drops it (see cache.ts keepResponse).
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { encode, negotiateCoding, type Coding } from '../lib/content-coding.js'
import { etagOf, matchingTag } from '../lib/etag.js'

interface KeptResponse {
  body: string
  etag: string
  coded: Partial<Record<Coding, Buffer>>
}

const anonymousGet = (request: FastifyRequest) => request.method === 'GET' && request.headers.authorization === undefined

export default fp(async app => {
  const state = app.cache
  if (state === null) return
  const { cache } = state
  const { COMPRESS_MIN_BYTES: compressFrom } = app.config

  function codingFor (request: FastifyRequest, kept: KeptResponse): Coding | undefined {
    if (compressFrom === 0 || kept.body.length < compressFrom || request.headers['x-no-compression'] !== undefined) return undefined
    // A 304 is coming (http-caching.ts): nothing to compress.
    if (matchingTag(request.headers['if-none-match'], kept.etag) !== undefined) return undefined
    return negotiateCoding(request.headers['accept-encoding'])
  }

  app.addHook('onRequest', (request, reply, done) => {
    const kept = anonymousGet(request) ? cache.response<KeptResponse>(request.url) : undefined
    if (kept === undefined) return done()
    if (request.dataReads !== null) request.dataReads.source = 'hot'
    request.etag = kept.etag
    reply.type('application/json; charset=utf-8')
    const coding = codingFor(request, kept)
    if (coding === undefined) return reply.send(kept.body)
    reply.header('content-encoding', coding)
    reply.send(kept.coded[coding] ??= encode(kept.body, coding))
  })

  app.addHook('onSend', async (request, reply, payload) => {
    const reads = request.dataReads
    if (reads?.refs !== undefined && reads.refs.size > 0 && reads.source !== undefined && reads.since !== undefined &&
      reply.statusCode === 200 && typeof payload === 'string') {
      // Tagged already by http-caching.ts, whose onSend runs first.
      const kept: KeptResponse = { body: payload, etag: request.etag ?? etagOf(payload), coded: {} }
      cache.keepResponse(request.url, kept, payload.length, reads.refs, reads.since)
    }
    return payload
  })
}, { name: 'response-cache', dependencies: ['config', 'cache', 'http-caching'] })
