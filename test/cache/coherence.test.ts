import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import type { TestUser } from '../helper.js'
import { buildInstance, read, redisPrefix, seed, SHARED_REDIS_URL, write } from './cache-helper.js'

// Two instances of the app on one database (and, with Redis, one key prefix): a write through A
// is acknowledged only once B has dropped what it changed, so the first read through B right
// after A's 2xx must already be fresh, and so must A's own. (B is still polled for up to 1 s when
// it is not, so a failure says how late B was.)

const prefix = redisPrefix(t)
const ITERATIONS = 50
const DEADLINE_MS = 1000

interface Step {
  name: string
  /** What B (and A) are read for, and as whom. */
  url: string
  viewer?: TestUser
  write: (i: number) => Promise<unknown>
}

async function coherence (t: Test, env: Record<string, string>) {
  const a = await buildInstance(t, env)
  const b = await buildInstance(t, env, { databaseUrl: a.databaseUrl })
  const oracle = await buildInstance(t, { CACHE: 'off' }, { databaseUrl: a.databaseUrl })
  const { users, slugs } = await seed(a.app, 'c')
  const [jake, jane, bob] = users as [TestUser, TestUser, TestUser]
  const [a0, a1, a2] = slugs as [string, string, string]
  let favorited = false
  let following = true // bob follows jane (seed)

  const steps: Step[] = [
    {
      name: 'favorite / unfavorite (count, anonymous)',
      url: `/api/articles/${a0}`,
      write: () => write(a.app, favorited ? 'DELETE' : 'POST', `/api/articles/${a0}/favorite`, bob).then(() => { favorited = !favorited })
    },
    {
      name: 'favorite / unfavorite (flag, the favoriting viewer)',
      url: `/api/articles?favorited=${bob.username}`,
      viewer: bob,
      write: () => write(a.app, favorited ? 'DELETE' : 'POST', `/api/articles/${a0}/favorite`, bob).then(() => { favorited = !favorited })
    },
    { name: 'article body', url: `/api/articles/${a1}`, viewer: jane, write: i => write(a.app, 'PUT', `/api/articles/${a1}`, jake, { article: { body: `Body ${i}` } }) },
    { name: 'user bio (profile)', url: `/api/profiles/${jane.username}`, write: i => write(a.app, 'PUT', '/api/user', jane, { user: { bio: `Bio ${i}` } }) },
    { name: 'comment added', url: `/api/articles/${a1}/comments`, write: i => write(a.app, 'POST', `/api/articles/${a1}/comments`, bob, { comment: { body: `Comment ${i}` } }) },
    {
      name: 'follow / unfollow (feed)',
      url: '/api/articles/feed',
      viewer: bob,
      write: () => write(a.app, following ? 'DELETE' : 'POST', `/api/profiles/${jane.username}/follow`, bob).then(() => { following = !following })
    },
    { name: 'new article (list)', url: '/api/articles?limit=5', write: i => write(a.app, 'POST', '/api/articles', jane, { article: { title: `New ${i}`, description: 'd', body: 'b' } }) },
    {
      name: 'tagList (tags)',
      url: '/api/tags',
      write: i => write(a.app, 'PUT', `/api/articles/${a2}`, jake, { article: { tagList: [`tag-${i}`] } })
    }
  ]

  const stats = new Map(steps.map(step => [step.name, { runs: 0, firstStale: 0, slowestMs: 0 }]))
  const failures: string[] = []
  for (let i = 0; i < ITERATIONS; i++) {
    const step = steps[i % steps.length] as Step
    const stat = stats.get(step.name) as { runs: number, firstStale: number, slowestMs: number }
    await read(b.app, step.url, step.viewer)
    await read(b.app, step.url, step.viewer)
    await read(a.app, step.url, step.viewer)
    await step.write(i)
    const done = Date.now()
    const first = await read(b.app, step.url, step.viewer)
    const fromA = await read(a.app, step.url, step.viewer)
    const expected = await read(oracle.app, step.url, step.viewer)
    stat.runs++
    if (fromA !== expected) failures.push(`${step.name}: A (the writer) stale right after its own write`)
    if (first !== expected) {
      stat.firstStale++
      failures.push(`${step.name}: B stale right after A acknowledged the write`)
    }
    let got = first
    while (got !== expected && Date.now() - done < DEADLINE_MS) {
      await sleep(5)
      got = await read(b.app, step.url, step.viewer)
    }
    stat.slowestMs = Math.max(stat.slowestMs, got === expected ? Date.now() - done : Infinity)
    if (got !== expected) failures.push(`${step.name}: B still stale ${DEADLINE_MS} ms after the write: ${got.slice(0, 200)}`)
    else if (await read(b.app, step.url, step.viewer) !== expected) failures.push(`${step.name}: B stale again after being fresh`)
  }

  t.same(failures, [], `${ITERATIONS} writes through A: A and B fresh right after the 2xx, and stay so`)
  let stale = 0
  for (const [name, { runs, firstStale, slowestMs }] of stats) {
    stale += firstStale
    t.comment(`${name}: first read through B stale ${firstStale}/${runs}, fresh after at most ${slowestMs} ms`)
  }
  t.comment(`first read through B after a write through A was stale ${stale} times out of ${ITERATIONS}`)

  // Reads through B in flight while A writes: a read that fetched the old value just before the
  // commit must not store it (in B's tier or in Redis) after B has dropped it.
  const racing: string[] = []
  for (let i = 0; i < 16; i++) {
    const step = steps[i % steps.length] as Step
    const control = { stop: false }
    const readers = Array.from({ length: 4 }, async () => {
      while (!control.stop) {
        await read(b.app, step.url, step.viewer)
        await read(a.app, step.url, step.viewer)
        await new Promise(resolve => setImmediate(resolve)) // let timers and sockets run
      }
    })
    await sleep(5)
    await step.write(ITERATIONS + i)
    const done = Date.now()
    const expected = await read(oracle.app, step.url, step.viewer)
    while (await read(b.app, step.url, step.viewer) !== expected && Date.now() - done < DEADLINE_MS) await sleep(5)
    await sleep(30)
    control.stop = true
    await Promise.all(readers)
    for (const [name, instance] of [['A', a], ['B', b]] as const) {
      for (let n = 0; n < 3; n++) {
        const got = await read(instance.app, step.url, step.viewer)
        if (got !== expected) racing.push(`${step.name}: ${name} stale after the racing reads: ${got.slice(0, 200)}`)
      }
    }
  }
  t.same(racing, [], 'reads in flight on both instances during 16 writes: none stores an old value')
  return stale
}

t.test('two instances, one Redis prefix', async t => {
  await coherence(t, { REDIS_URL: SHARED_REDIS_URL, REDIS_PREFIX: prefix.next() })
})

t.test('two instances, REDIS_URL unset (in-process only)', async t => {
  await coherence(t, {})
})
