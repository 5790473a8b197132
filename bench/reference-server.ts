// The bench's reference row, as fastify/benchmarks keeps one: a bare Fastify 5 process, no
// plugins, no hooks, no logger, answering GET /health/live with the bytes the service sends
// there. `baseline` (the service's own /health/live) against it is what the service's hooks cost.
import Fastify from 'fastify'

const BODY = process.env.REFERENCE_BODY ?? '{"status":"ok"}'
const app = Fastify({ logger: false })
for (const path of ['/health/live', '/health']) { // /health: what the bench polls until a process is up
  app.get(path, async (_request, reply) => {
    reply.type('application/json; charset=utf-8')
    return BODY
  })
}
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
