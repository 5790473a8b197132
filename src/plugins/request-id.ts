import fp from 'fastify-plugin'

// Echo the request id (the caller's x-request-id when it sent a safe one), so a frontend bug
// report can be matched to the server's log line.
export default fp(async app => {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
}, { name: 'request-id' })
