import fp from 'fastify-plugin'
import type { Config } from '../config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: AppConfig
  }
}

/** The validated config, with the database already resolved (embedded or DATABASE_URL). */
export type AppConfig = Config & { DATABASE_URL: string }

export default fp<{ config: AppConfig }>(async (app, opts) => {
  app.decorate('config', opts.config)
}, { name: 'config' })
