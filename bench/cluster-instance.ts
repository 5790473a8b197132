// One instance of the built service in the local cluster: on a port of its own that it keeps
// across restarts (HAProxy's configuration names it), its JSON log lines collected.
import { startPart, type Part } from './cluster-parts.js'

export interface LogLine { level: number, msg: string, [field: string]: unknown }

export interface ClusterInstance {
  name: string
  port: number
  /** http://127.0.0.1:<port>: the instance itself, not through the load balancer */
  url: string
  /** of the running process (the last one started) */
  pid: number
  running: boolean
  /** every JSON log line of every process this instance has run, in order */
  lines: LogLine[]
  /** Starts the process; resolves once it listens (HAProxy may not send it traffic yet). */
  start: () => Promise<void>
  /** Sends `signal` (default SIGTERM) and resolves with the exit code or signal name. */
  stop: (signal?: NodeJS.Signals) => Promise<number | string>
}

export interface InstanceOptions {
  name: string
  port: number
  serverJs: string
  cwd: string
  env: Record<string, string>
  onLine?: (line: LogLine) => void
}

const MAX_LINES = 200000

export function clusterInstance (options: InstanceOptions): ClusterInstance {
  const { name, port, serverJs, cwd, env, onLine } = options
  let part: Part | undefined
  let running = false
  const lines: LogLine[] = []

  const instance: ClusterInstance = {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    get pid () { return part?.pid ?? 0 },
    get running () { return running },
    lines,
    async start () {
      if (running) throw new Error(`${name} is already running`)
      let listening!: () => void
      const listened = new Promise<void>(resolve => { listening = resolve })
      let buffer = ''
      const started = startPart(name, process.execPath, [serverJs], {
        stopSignal: 'SIGTERM',
        cwd,
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', HOST: '127.0.0.1', LOG_LEVEL: 'info', METRICS_PORT: '0', ...env, PORT: String(port) },
        stdout: chunk => {
          buffer += chunk
          for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
            const text = buffer.slice(0, nl)
            buffer = buffer.slice(nl + 1)
            let line: LogLine
            try {
              line = JSON.parse(text) as LogLine
            } catch {
              continue
            }
            if (lines.length < MAX_LINES) lines.push(line)
            onLine?.(line)
            if (typeof line.api === 'string') listening()
          }
        }
      })
      part = started
      running = true
      started.exited.then(() => { running = false }, () => {})
      const exited = started.exited.then(code => {
        throw new Error(`${name} exited (${code}) before listening:\n${started.output()}\n${lines.slice(-5).map(l => JSON.stringify(l)).join('\n')}`)
      })
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<never>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} did not listen within 60 s`)), 60000)
      })
      try {
        await Promise.race([listened, exited, late])
      } finally {
        clearTimeout(timer)
      }
    },
    async stop (signal = 'SIGTERM') {
      const current = part
      if (current === undefined) return 'never started'
      if (running) process.kill(current.pid, signal)
      // Its own shutdown deadline applies first; this one is for a process that ignores it.
      const killer = setTimeout(() => { if (running) process.kill(current.pid, 'SIGKILL') }, 60000)
      const code = await current.exited
      clearTimeout(killer)
      return code
    }
  }
  return instance
}
