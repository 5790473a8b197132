// Debian's HAProxy in front of the local cluster's instances, configured as
// deploy/compose/haproxy.cfg is (health checks on /health/ready, the same retries), with an
// admin socket to read each server's state and the retry counters.
import { writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { freePort } from './server.js'
import { startPart, waitReady, type Part } from './cluster-parts.js'

export interface ServerStat {
  name: string
  /** UP, DOWN, MAINT, or during a transition e.g. "UP 1/2" */
  status: string
  /** requests HAProxy resent after a failed attempt, and those it sent to another server */
  retries: number
  redispatches: number
  /** HTTP responses from this server (or, for the backend, all) by class */
  responses: { '2xx': number, '4xx': number, '5xx': number }
}

export interface Haproxy extends Part {
  url: string
  socket: string
  /** One command on the admin socket; its answer. */
  command: (line: string) => Promise<string>
  /** Each server's state and counters, and the backend's (named BACKEND). */
  stats: () => Promise<ServerStat[]>
}

export interface HaproxyOptions {
  /** name and port of each instance (on 127.0.0.1) */
  servers: Array<{ name: string, port: number }>
  /** health check interval (2 s in production; short in the test, so an instance leaves and joins fast) */
  checkMs: number
  port?: number
}

export async function startHaproxy (dir: string, options: HaproxyOptions): Promise<Haproxy> {
  const port = options.port ?? await freePort()
  const socket = join(dir, 'haproxy.sock')
  const config = join(dir, 'haproxy.cfg')
  writeFileSync(config, [
    'global',
    `  stats socket ${socket} mode 600 level admin`,
    'defaults',
    '  mode http',
    '  option forwardfor',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    // As in production, where it defaults to the 2 s check interval: a slow answer is not a failed check.
    '  timeout check 2s',
    '  retry-on conn-failure empty-response',
    '  retries 2',
    // Each retry to another server: without it HAProxy retries the server that just failed (a
    // killed instance refuses twice more, a second apart, then the client gets a 503).
    '  option redispatch 1',
    'frontend api',
    `  bind 127.0.0.1:${port}`,
    '  default_backend gravity',
    'backend gravity',
    '  balance roundrobin',
    '  option httpchk GET /health/ready',
    '  http-check expect status 200',
    // Which instance answered: for a person trying it, and for the test's freshness checks.
    '  http-response set-header X-Served-By %s',
    `  default-server inter ${options.checkMs} fall 2 rise 2`,
    ...options.servers.map(s => `  server ${s.name} 127.0.0.1:${s.port} check`),
    ''
  ].join('\n'))
  const part = startPart('haproxy', '/usr/sbin/haproxy', ['-db', '-f', config], { stopSignal: 'SIGTERM' })
  const command = (line: string) => new Promise<string>((resolve, reject) => {
    let answer = ''
    const client = connect(socket, () => client.end(`${line}\n`))
    client.setEncoding('utf8').on('data', chunk => { answer += chunk })
    client.on('end', () => resolve(answer)).on('error', reject)
  })
  const stats = async (): Promise<ServerStat[]> => {
    const [header = '', ...rows] = (await command('show stat')).trim().split('\n')
    const columns = header.replace(/^# /, '').split(',')
    return rows.map(row => Object.fromEntries(row.split(',').map((value, i) => [columns[i], value])))
      .filter(row => row.pxname === 'gravity')
      .map(row => ({
        name: row.svname as string,
        status: row.status as string,
        retries: Number(row.wretr),
        redispatches: Number(row.wredis),
        responses: { '2xx': Number(row.hrsp_2xx), '4xx': Number(row.hrsp_4xx), '5xx': Number(row.hrsp_5xx) }
      }))
  }
  await waitReady(part, async () => (await stats()).length > 0)
  return { ...part, url: `http://127.0.0.1:${port}`, socket, command, stats }
}
