// npm run cluster: the service as it is deployed, on this machine, for a person to try: three
// instances of the build behind HAProxy, through PgBouncer, with one Redis, on DATABASE_URL or on a
// PostgreSQL of its own with the demo data. Prints where each part listens; Ctrl-C stops them all.
import { resolve } from 'node:path'
import { startCluster } from './local-cluster.js'

const cluster = await startCluster({
  serverJs: resolve('dist/server.js'),
  databaseUrl: process.env.DATABASE_URL === '' ? undefined : process.env.DATABASE_URL,
  // Warnings and errors as they happen; every request line would drown them.
  onLine: (instance, line) => { if (line.level >= 40) console.log(`${instance}: ${JSON.stringify(line)}`) }
})
const port = (url: string) => new URL(url).port
console.log([
  `load balancer   ${cluster.lbUrl}/api  (X-Served-By names the instance that answered)`,
  ...cluster.instances.map(i => `instance ${i.name}     ${i.url}  pid ${i.pid}`),
  `PgBouncer       127.0.0.1:${port(cluster.pooledUrl)}  (admin console: psql ${cluster.pgbouncerAdminUrl})`,
  `PostgreSQL      ${cluster.databaseUrl}`,
  `Redis           ${cluster.redisUrl}`,
  `HAProxy admin   echo 'show stat' | socat stdio ${cluster.haproxy.socket}`,
  cluster.demo ? 'demo login      demo@conduit.local / password' : '',
  'Ctrl-C stops everything.'
].filter(Boolean).join('\n'))

let stopping = false
const stop = (signal: string) => {
  if (stopping) return
  stopping = true
  console.log(`${signal}: stopping the cluster`)
  cluster.stop().then(() => process.exit(0), err => {
    console.error(err)
    process.exit(1)
  })
}
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
