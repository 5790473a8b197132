// A TCP proxy to PostgreSQL whose connections can all go silent at once and stay so, both ways (a
// dead network path: no FIN, no RST; a failover, a NAT or firewall idle timeout), connections
// opened meanwhile included; `reachable()` lets new connections through again. Used by
// bench/faults.ts and test/db/pool-faults.test.ts.
import net from 'node:net'

export interface SilencingProxy {
  port: number
  silence: () => void
  reachable: () => void
  close: () => Promise<void>
}

export async function silencingProxy (target: URL, port: number): Promise<SilencingProxy> {
  const pairs = new Set<{ client: net.Socket, upstream: net.Socket, silent: boolean }>()
  let silent = false
  const server = net.createServer(client => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname)
    const pair = { client, upstream, silent }
    pairs.add(pair)
    client.on('data', data => { if (!pair.silent) upstream.write(data) })
    upstream.on('data', data => { if (!pair.silent) client.write(data) })
    for (const socket of [client, upstream]) {
      socket.on('error', () => {})
      socket.on('close', () => {
        pairs.delete(pair)
        client.destroy()
        upstream.destroy()
      })
    }
  })
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
  return {
    port,
    silence: () => {
      silent = true
      for (const pair of pairs) pair.silent = true
    },
    reachable: () => { silent = false },
    close: async () => {
      for (const pair of pairs) pair.client.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
}
