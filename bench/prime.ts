import { Agent, request } from 'node:http'
import type { Fixtures, UserRef } from './fixtures.js'
import type { Service } from './server.js'

export interface PrimeResult {
  requests: number
  failed: number
  seconds: number
}

interface Read { path: string, token?: string }

/**
 * Reads every article, comment list and profile once (and one article per user, signed in, for
 * their favorites and follows), so the cache-on rows measure a cache in its steady state: at the
 * request rates measured here, a deployed service sees every article again well within the
 * cache's TTL (600 s in Redis). List pages are not primed: they live in-process for 60 s only,
 * and each scenario's warm-up fills the ones it uses.
 */
export async function prime (service: Service, fixtures: Fixtures, tokenFor: (user: UserRef) => string, concurrency: number): Promise<PrimeResult> {
  const enc = encodeURIComponent
  const reads: Read[] = [
    { path: '/api/tags' },
    ...fixtures.slugs.flatMap(slug => [{ path: `/api/articles/${enc(slug)}` }, { path: `/api/articles/${enc(slug)}/comments` }]),
    ...fixtures.profiles.map(username => ({ path: `/api/profiles/${enc(username)}` })),
    ...fixtures.writers.map((user, i) => ({ path: `/api/articles/${enc(fixtures.slugs[i % fixtures.slugs.length] as string)}`, token: tokenFor(user) }))
  ]
  const base = new URL(service.url)
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const started = performance.now()
  let next = 0
  let failed = 0
  const one = (read: Read) => new Promise<void>(resolve => {
    const headers: Record<string, string> = read.token === undefined ? {} : { authorization: `Token ${read.token}` }
    const req = request({ host: base.hostname, port: base.port, path: read.path, headers, agent }, res => {
      if (res.statusCode !== 200) failed++
      res.resume()
      res.on('end', resolve)
      res.on('error', () => { failed++; resolve() })
    })
    req.setTimeout(10000, () => req.destroy(new Error('timeout')))
    req.on('error', () => { failed++; resolve() })
    req.end()
  })
  try {
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < reads.length) await one(reads[next++] as Read)
    }))
  } finally {
    agent.destroy()
  }
  return { requests: reads.length, failed, seconds: (performance.now() - started) / 1000 }
}
