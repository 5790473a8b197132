import fp from 'fastify-plugin'

// While the server closes, a request that still arrives (pipelined, or on a keep-alive connection
// not yet closed) is refused with a Conduit-shaped 503 that says when to retry; the connection is
// closed after it, so the client's retry goes to a live instance. (Fastify's own return503OnClosing
// answers in its own error shape.)
export default fp(async app => {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onRequest', (request, reply, done) => {
    if (!closing) return done()
    reply.code(503).header('retry-after', '1').header('connection', 'close')
      .send({ errors: { server: ['is shutting down, try again'] } })
  })
}, { name: 'draining' })
