import fp from 'fastify-plugin'
import { cachedRepositories } from '../cache/cached-repositories.js'
import { statements } from '../db/statement.js'
import { createRepositories, type Repositories } from '../repositories/repositories.js'

declare module 'fastify' {
  interface FastifyInstance {
    repos: Repositories
  }
}

// The repositories on the app's pools (writes on the primary, reads through app.pgRead), read
// through the cache when it is on; their hot reads as prepared statements unless PG_PREPARED_STATEMENTS=off.
export default fp(async app => {
  const repos = createRepositories(app.pg, app.pgRead, statements(app.config.PG_PREPARED_STATEMENTS === 'on'))
  app.decorate('repos', app.cache === null ? repos : cachedRepositories(repos, app.cache.cache))
}, { name: 'repositories', dependencies: ['db', 'read-db', 'cache'] })
