// One bench run's resources and their cleanup: the database and Redis prefix it names, the results
// directory, and the services it starts. Whatever happens (an error, Ctrl-C), close() stops every
// service and drops the database and the Redis keys unless --keep.
import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { dropDatabase } from './db.js'
import type { BenchOptions } from './options.js'
import { deletePrefix } from './redis.js'
import type { CacheMode } from './results.js'
import { startService, type Service } from './server.js'

export interface Session {
  /** `YYYYMMDD-HHMMSS`: names the results, logs and profiles of this run */
  stamp: string
  /** bench_<stamp>_<pid>: the bench database, and the cache-on services' Redis prefix */
  dbName: string
  resultsDir: string
  profileDir: string
  /** The cache-on services use Redis (their keys are deleted on close). */
  usesRedis: boolean
  /** The database now exists (it is dropped on close). */
  created: () => void
  /** Starts an instance of the service on the bench database (`instance` > 1: coherence's others). */
  launch: (mode: CacheMode, instance: number, databaseUrl: string, jwtSecret: string, pinned: boolean) => Promise<Service>
  /** Starts the reference server (bench/reference-server.ts) answering `body` on /health/live. */
  launchReference: (body: string, pinned: boolean) => Promise<Service>
  /** Stops one service; resolves to its exit code. */
  stop: (service: Service) => Promise<number | null>
  close: () => Promise<void>
}

export function createSession (opts: BenchOptions): Session {
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, '').replace(/[-:]/g, '').replace('T', '-')
  const dbName = `bench_${stamp.replace('-', '_')}_${process.pid}`
  const resultsDir = resolve('bench/results')
  const profileDir = join(resultsDir, 'profiles')
  mkdirSync(resultsDir, { recursive: true })
  if (opts.profile) mkdirSync(profileDir, { recursive: true })
  const usesRedis = opts.redisUrl !== undefined && opts.modes.includes('on')
  const running = new Set<Service>()
  let dbCreated = false

  async function stop (service: Service): Promise<number | null> {
    running.delete(service)
    return service.stop()
  }

  let closing: Promise<void> | undefined
  function close (): Promise<void> {
    closing ??= (async () => {
      await Promise.all([...running].map(s => stop(s).catch(() => null)))
      if (usesRedis && !opts.keep && opts.redisUrl !== undefined) {
        await deletePrefix(opts.redisUrl, dbName)
          .then(n => console.log(`deleted ${n} Redis keys under ${dbName}:*`))
          .catch(err => console.error(`could not delete the Redis keys under ${dbName}:* : ${(err as Error).message}`))
      }
      if (dbCreated && !opts.keep) {
        await dropDatabase(opts.serverUrl, dbName).catch(err => console.error(`could not drop ${dbName}: ${(err as Error).message}`))
      }
    })()
    return closing
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the services${opts.keep ? '' : ', dropping the bench database and its Redis keys'}`)
      close().finally(() => process.exit(130)).catch(() => {})
    })
  }

  return {
    stamp,
    dbName,
    resultsDir,
    profileDir,
    usesRedis,
    created: () => { dbCreated = true },
    async launch (mode, instance, databaseUrl, jwtSecret, pinned) {
      const cacheRedis = mode === 'on' ? opts.redisUrl : undefined
      const service = await startService({
        databaseUrl,
        jwtSecret,
        logFile: join(resultsDir, `${stamp}.server-${mode}${instance > 1 ? `-${instance}` : ''}.log`),
        cpu: pinned ? 0 : undefined,
        profileDir: opts.profile ? profileDir : undefined,
        poolMax: opts.poolMax,
        cache: mode,
        redisUrl: cacheRedis,
        redisPrefix: cacheRedis !== undefined ? dbName : undefined
      })
      running.add(service)
      return service
    },
    async launchReference (body, pinned) {
      const service = await startService({
        databaseUrl: '',
        jwtSecret: '',
        logFile: join(resultsDir, `${stamp}.reference.log`),
        cpu: pinned ? 0 : undefined,
        entry: resolve('dist-bench/reference-server.js'),
        env: { REFERENCE_BODY: body }
      })
      running.add(service)
      return service
    },
    stop,
    close
  }
}
