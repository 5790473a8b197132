import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** Shutdown has begun: readiness fails so load balancers stop sending traffic. */
    draining: { readonly active: boolean, begin: () => void }
  }
}

// Shutdown in two steps. Draining: the readiness probe fails, requests are still served, so a
// load balancer takes the instance out before it stops answering. Closing (Fastify's close): a
// request that still arrives (pipelined, or on a keep-alive connection not yet closed) is refused
// with a Conduit-shaped 503 that says when to retry, and its connection is closed so the retry
// goes to a live instance. (Fastify's own return503OnClosing answers in its own error shape.)
export default fp(async app => {
  let draining = false
  let closing = false
  app.decorate('draining', {
    get active () { return draining },
    begin () { draining = true }
  })
  app.addHook('preClose', async () => {
    draining = true
    closing = true
  })
  app.addHook('onRequest', (request, reply, done) => {
    if (!closing) return done()
    reply.code(503).header('retry-after', '1').header('connection', 'close')
      .send({ errors: { server: ['is shutting down, try again'] } })
  })
}, { name: 'draining' })
