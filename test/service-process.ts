import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { Test } from 'tap'
import { ensureBuilt, ROOT } from './built.js'

// The built service as its own process (`node dist/server.js`, as the Dockerfile runs it), with
// its JSON log lines collected, stopped when the test ends.

export interface ServiceProcess {
  child: ChildProcess
  /** Every JSON log line so far. */
  lines: Array<Record<string, unknown>>
  /** http://127.0.0.1:<port>, once listening. */
  url: string
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>
}

/** `env` values of '' unset the variable (the config reads an empty value as unset). */
export async function startService (t: Test, env: Record<string, string>, nodeArgs: string[] = [], cwd = ROOT): Promise<ServiceProcess> {
  const server = await ensureBuilt()
  const child = spawn(process.execPath, [...nodeArgs, server], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      JWT_SECRET: 'service-process-test-secret-0123456789',
      METRICS_PORT: '0',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string)
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const lines: Array<Record<string, unknown>> = []
  let stderr = ''
  child.stderr?.on('data', data => { stderr += data })
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = ''
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (data: string) => {
      buffer += data
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const text = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        let line: Record<string, unknown>
        try {
          line = JSON.parse(text) as Record<string, unknown>
        } catch {
          continue
        }
        lines.push(line)
        if (typeof line.api === 'string') resolve(line.api.replace(/\/api$/, ''))
      }
    })
    exited.then(code => reject(new Error(`service exited (${code}) before listening: ${stderr}\n${JSON.stringify(lines)}`)), () => {})
  })
  return { child, lines, url, exited }
}
