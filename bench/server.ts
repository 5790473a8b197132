import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { availableParallelism } from 'node:os'
import { resolve as resolvePath } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/** Rate limits (a minute) for the service under load: far above what one load generator sends. */
const BENCH_RATE_LIMIT = '1000000000'

export interface ServerOptions {
  databaseUrl: string
  jwtSecret: string
  logFile: string
  /** pin the service to this CPU (taskset), if any */
  cpu?: number
  /** write a .cpuprofile here when the service exits */
  profileDir?: string
  poolMax?: number
  /** CACHE: `off` reads PostgreSQL every time (default: the service's own default, on) */
  cache?: 'on' | 'off'
  /** REDIS_URL for the service's cache; unset runs it without Redis (in-process cache only) */
  redisUrl?: string
  /** REDIS_PREFIX: instances sharing one see each other's Redis entries */
  redisPrefix?: string
  /** run this script instead of dist/server.js (the reference server), with these variables added */
  entry?: string
  env?: Record<string, string>
}

export interface Service {
  pid: number
  url: string
  /** where the service writes its log (one JSON line per request at LOG_LEVEL=info) */
  logFile: string
  /** current and peak resident set size (kB), from /proc */
  memory (): { rssKb: number, hwmKb: number } | undefined
  /** user + system CPU time (ms) the service has used so far */
  cpuMs (): number | undefined
  /** SIGTERM and wait: the service closes cleanly (and writes its CPU profile) */
  stop (): Promise<number | null>
  exited: Promise<number | null>
}

/** A port nobody listens on right now (the service binds it a moment later). */
export async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** taskset exists and there are at least two CPUs to split between service and load generator. */
export function canPin (): boolean {
  if (availableParallelism() < 2) return false
  return spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0
}

/** Moves every thread of `pid` onto `cpu`. */
export function pin (pid: number, cpu: number): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' }).status === 0
}

function procStatusKb (field: string, text: string): number | undefined {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)
  return match ? Number(match[1]) : undefined
}

export async function startService (opts: ServerOptions): Promise<Service> {
  const entry = opts.entry ?? resolvePath(process.cwd(), 'dist/server.js')
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build first`)
  const port = await freePort()
  const nodeArgs = opts.profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', opts.profileDir]
  const command = opts.cpu === undefined ? process.execPath : 'taskset'
  const args = opts.cpu === undefined
    ? [...nodeArgs, entry]
    : ['-c', String(opts.cpu), process.execPath, ...nodeArgs, entry]

  // The service writes its log straight to the file: piped through this process, every log
  // line would cost CPU on the load generator's core.
  const log = openSync(opts.logFile, 'w')
  const child: ChildProcess = spawn(command, args, {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: opts.databaseUrl,
      JWT_SECRET: opts.jwtSecret,
      PG_POOL_MAX: String(opts.poolMax ?? 10),
      METRICS_PORT: '0',
      // All the load comes from one address (and a few users): limits this high are never
      // reached, but every request is still counted, so the limiter's cost is in the numbers.
      RATE_LIMIT_MAX: BENCH_RATE_LIMIT,
      AUTH_RATE_LIMIT_MAX: BENCH_RATE_LIMIT,
      WRITE_RATE_LIMIT_MAX: BENCH_RATE_LIMIT,
      ...(opts.cache === undefined ? {} : { CACHE: opts.cache }),
      ...(opts.redisUrl === undefined ? {} : { REDIS_URL: opts.redisUrl }),
      ...(opts.redisPrefix === undefined ? {} : { REDIS_PREFIX: opts.redisPrefix }),
      // Tracing, when the bench's environment sets OTEL_EXPORTER_OTLP_ENDPOINT and the like.
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('OTEL_'))),
      ...opts.env
    },
    stdio: ['ignore', log, log]
  })
  closeSync(log)
  let running = true
  const exited = new Promise<number | null>(resolve => {
    child.once('exit', code => {
      running = false
      resolve(code)
    })
    child.once('error', () => {
      running = false
      resolve(null)
    })
  })
  const pid = child.pid as number
  const url = `http://127.0.0.1:${port}`

  const service: Service = {
    pid,
    url,
    logFile: opts.logFile,
    exited,
    memory () {
      try {
        const text = readFileSync(`/proc/${pid}/status`, 'utf8')
        const rssKb = procStatusKb('VmRSS', text)
        const hwmKb = procStatusKb('VmHWM', text)
        return rssKb === undefined || hwmKb === undefined ? undefined : { rssKb, hwmKb }
      } catch {
        return undefined
      }
    },
    cpuMs () {
      try {
        // Fields after the command name (which may hold spaces): utime and stime are 14th and 15th.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        const ticks = Number(fields[11]) + Number(fields[12])
        // USER_HZ is 100 on every Linux this runs on.
        return ticks * 10
      } catch {
        return undefined
      }
    },
    async stop () {
      if (running) child.kill('SIGTERM')
      const timer = setTimeout(() => { if (running) child.kill('SIGKILL') }, 15000)
      const code = await exited
      clearTimeout(timer)
      return code
    }
  }

  // Ready when /health answers; migrations at startup take a moment on a fresh database.
  const deadline = Date.now() + 60000
  while (Date.now() < deadline) {
    if (!running) {
      throw new Error(`the service exited with code ${await exited} before answering; see ${opts.logFile}:\n${tail(opts.logFile)}`)
    }
    try {
      const res = await fetch(`${url}/health`)
      if (res.ok) return service
    } catch {}
    await sleep(200)
  }
  await service.stop()
  throw new Error(`the service did not answer /health within 60 s; see ${opts.logFile}:\n${tail(opts.logFile)}`)
}

function tail (file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n')
  } catch {
    return ''
  }
}
