import cors from '@fastify/cors'
import type { FastifyPluginAsync } from 'fastify'
import { seedDemoData } from './db/demo-seed.js'
import { hashPassword } from './lib/password.js'
import auth from './plugins/auth.js'
import cache from './plugins/cache.js'
import config, { type AppConfig } from './plugins/config.js'
import db from './plugins/db.js'
import draining from './plugins/draining.js'
import errorHandler from './plugins/error-handler.js'
import jsonBody from './plugins/json-body.js'
import nodeAnswers from './plugins/node-answers.js'
import repositories from './plugins/repositories.js'
import requestId from './plugins/request-id.js'
import schemas from './plugins/schemas.js'
import swagger from './plugins/swagger.js'
import tokens from './plugins/tokens.js'
import articles from './routes/articles.js'
import comments from './routes/comments.js'
import health from './routes/health.js'
import profiles from './routes/profiles.js'
import tags from './routes/tags.js'
import users from './routes/users.js'
import type { Tracing } from './tracing.js'

export interface AppOptions {
  config: AppConfig
  /** Load the demo data set into an empty database (the zero-config `npm start`). */
  demoData?: boolean
  /** Set when tracing is on (src/tracing.ts): its request spans wrap every route. */
  tracing?: Tracing
}

/** The whole service as one plugin: infrastructure first, then one plugin per resource. */
const app: FastifyPluginAsync<AppOptions> = async (fastify, opts) => {
  // First: it wraps the routes and hooks registered after it.
  if (opts.tracing !== undefined) await fastify.register(opts.tracing.plugin)
  await fastify.register(config, { config: opts.config })
  await fastify.register(draining)
  await fastify.register(nodeAnswers)
  await fastify.register(requestId)
  await fastify.register(errorHandler)
  await fastify.register(jsonBody)
  await fastify.register(cors, {
    origin: corsOrigin(opts.config.CORS_ORIGIN),
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
    exposedHeaders: ['X-Request-Id'],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    maxAge: 600
  })
  await fastify.register(schemas)
  await fastify.register(swagger)
  await fastify.register(db)
  if (opts.demoData === true) await seedDemoData(fastify.pg, hashPassword, fastify.log)
  await fastify.register(cache)
  await fastify.register(repositories)
  await fastify.register(tokens)
  await fastify.register(auth)

  await fastify.register(health)
  await fastify.register(async api => {
    await api.register(users)
    await api.register(profiles)
    await api.register(articles)
    await api.register(comments)
    await api.register(tags)
  }, { prefix: '/api' })
}

function corsOrigin (setting: string): string | string[] {
  if (setting === '*') return '*'
  return setting.split(',').map(origin => origin.trim()).filter(Boolean)
}

export default app
