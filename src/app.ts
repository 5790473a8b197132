import cors from '@fastify/cors'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { seedDemoData } from './db/demo-seed.js'
import { hashPassword } from './lib/password.js'
import auth from './plugins/auth.js'
import cache from './plugins/cache.js'
import changes from './plugins/changes.js'
import compression from './plugins/compression.js'
import config, { type AppConfig } from './plugins/config.js'
import db from './plugins/db.js'
import draining from './plugins/draining.js'
import errorHandler from './plugins/error-handler.js'
import httpCaching from './plugins/http-caching.js'
import idempotency from './plugins/idempotency.js'
import jsonBody from './plugins/json-body.js'
import loadShedding from './plugins/load-shedding.js'
import metrics from './plugins/metrics.js'
import nodeAnswers from './plugins/node-answers.js'
import readDb from './plugins/read-db.js'
import readiness from './plugins/readiness.js'
import repositories from './plugins/repositories.js'
import responseCache from './plugins/response-cache.js'
import rateLimit from './plugins/rate-limit.js'
import requestId from './plugins/request-id.js'
import routeDocs from './plugins/route-docs.js'
import schemas from './plugins/schemas.js'
import securityHeaders from './plugins/security-headers.js'
import swagger from './plugins/swagger.js'
import tokens from './plugins/tokens.js'
import articles from './routes/articles.js'
import comments from './routes/comments.js'
import health from './routes/health.js'
import indexPage from './routes/index-page.js'
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
const service: FastifyPluginAsync<AppOptions> = async (fastify, opts) => {
  // First: it wraps the routes and hooks registered after it.
  if (opts.tracing !== undefined) await fastify.register(opts.tracing.plugin)
  await fastify.register(config, { config: opts.config })
  await fastify.register(securityHeaders)
  await fastify.register(draining)
  await fastify.register(nodeAnswers)
  await fastify.register(loadShedding)
  await fastify.register(requestId)
  await fastify.register(errorHandler)
  await fastify.register(jsonBody)
  await fastify.register(cors, {
    origin: corsOrigin(opts.config.CORS_ORIGIN),
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id', 'Idempotency-Key', 'If-None-Match'],
    exposedHeaders: ['X-Request-Id', 'ETag'],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    maxAge: 600
  })
  // After CORS (a preflight is answered before it counts), before the cache (which answers some
  // anonymous GETs from memory in its own onRequest hook).
  await fastify.register(rateLimit)
  // Compression, then the tags of what it sends: each adds its hooks to the routes declared after it.
  await fastify.register(compression)
  await fastify.register(httpCaching)
  await fastify.register(schemas)
  if (opts.config.DOCS === 'on') await fastify.register(swagger)
  await fastify.register(db)
  if (opts.demoData === true) await seedDemoData(fastify.pg, hashPassword, fastify.log)
  await fastify.register(readDb)
  await fastify.register(changes)
  await fastify.register(cache)
  await fastify.register(responseCache)
  await fastify.register(readiness)
  await fastify.register(metrics)
  await fastify.register(repositories)
  await fastify.register(tokens)
  await fastify.register(auth)
  await fastify.register(idempotency)
  await fastify.register(routeDocs)

  await fastify.register(health)
  await fastify.register(indexPage)
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

// Not encapsulated: the process (server.ts) and the tests reach the app's decorators
// (draining, readiness, metrics) on the instance they registered it on.
export default fp(service, { name: 'gravity-bff' })
