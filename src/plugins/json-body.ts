import fp from 'fastify-plugin'

// Conduit frontends send `Content-Type: application/json` with no body on favorite, follow and
// delete; Fastify's own parser rejects that, so an empty JSON body is read as `{}`.
export default fp(async app => {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  // JSON only: Fastify's built-in text/plain parser would hand validation a string (a puzzling 422).
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString()
    if (text.trim() === '') return done(null, {})
    parseJson(request, text, done)
  })
}, { name: 'json-body' })
