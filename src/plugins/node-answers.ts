import fp from 'fastify-plugin'
import { expectationFailed } from '../framework-errors.js'

// Node's HTTP server answers an unknown `Expect` itself (417, no body) unless someone listens for
// it: listen, and answer in the Conduit error shape. No hook: nothing runs per request.
export default fp(async app => {
  app.server.on('checkExpectation', expectationFailed)
}, { name: 'node-answers' })
