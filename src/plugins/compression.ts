// Response compression (@fastify/compress): br or gzip as Accept-Encoding asks, for bodies of at
// least COMPRESS_MIN_BYTES (below that the headers and the CPU cost more than the bytes saved).
// Request bodies are not decompressed: a small gzip body can inflate past BODY_LIMIT's meaning.
import compress from '@fastify/compress'
import fp from 'fastify-plugin'
import { BROTLI_OPTIONS, CODINGS } from '../lib/content-coding.js'

export const SYNC_COMPRESS_MAX_BYTES = 8192

export default fp(async app => {
  const { COMPRESS_MIN_BYTES } = app.config
  if (COMPRESS_MIN_BYTES === 0) return
  await app.register(compress, {
    global: true,
    globalDecompression: false,
    encodings: [...CODINGS],
    threshold: COMPRESS_MIN_BYTES,
    brotliOptions: BROTLI_OPTIONS,
    // Bodies up to this size are compressed in one call, larger ones streamed through zlib's
    // threads. Fixed, not derived from the core count: Node 20 counts the host's cores, not the
    // container's CPU share (deploy/k8s requests half a CPU a pod: streaming would buy nothing).
    syncThreshold: SYNC_COMPRESS_MAX_BYTES
  })
}, { name: 'compression', dependencies: ['config'] })
