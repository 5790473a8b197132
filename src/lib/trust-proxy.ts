// TRUST_PROXY, read into what Fastify's trustProxy option takes: which peers' X-Forwarded-For
// (and -Proto, -Host) to believe, so request.ip is the client's address behind a load balancer.
import { isIP } from 'node:net'

/** false: the socket's address; true: the left-most forwarded address; a list: those proxies. */
export type TrustProxy = boolean | string[]

// proxy-addr's names for address ranges (127.0.0.0/8 and ::1, 169.254.0.0/16 and fe80::/10, private ranges).
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal'])

/** Throws an Error saying what is wrong with the value. */
export function parseTrustProxy (value: string): TrustProxy {
  const setting = value.trim()
  if (setting === 'false') return false
  if (setting === 'true') return true
  // Fastify 5 trusts no one for a hop count: it cannot tell a proxy from a client that sends
  // X-Forwarded-For itself.
  if (/^\d+$/.test(setting)) throw new Error('cannot be a hop count: name the proxies\' addresses or CIDRs')
  const entries = setting.split(',').map(entry => entry.trim())
  for (const entry of entries) {
    if (!validEntry(entry)) {
      throw new Error(`must be false, true or a comma-separated list of addresses, CIDRs, loopback, linklocal or uniquelocal (not "${entry}")`)
    }
  }
  return entries
}

function validEntry (entry: string): boolean {
  if (RANGE_NAMES.has(entry)) return true
  const [address = '', bits, extra] = entry.split('/')
  const version = isIP(address)
  if (version === 0 || extra !== undefined) return false
  if (bits === undefined) return true
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128)
}
