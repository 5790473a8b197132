import t from 'tap'
import { createHotTier } from '../../src/cache/hot-tier.js'

t.test('bounded by entries: the least recently used go first, a hit keeps an entry', async t => {
  const hot = createHotTier({ maxEntries: 8, maxBytes: 1e6 })
  for (let i = 0; i < 8; i++) hot.set(`k${i}`, i, 1, [], 60_000)
  // k0 is read once the others stored since it moved (7) reach a quarter of the capacity (2).
  t.equal(hot.get('k0'), 0)
  for (let i = 8; i < 14; i++) hot.set(`k${i}`, i, 1, [], 60_000)
  t.equal(hot.stats().entries, 8, 'never more than maxEntries')
  t.equal(hot.get('k0'), 0, 'the entry read survived six newer ones')
  t.equal(hot.get('k1'), undefined, 'unread older entries were evicted')
  t.equal(hot.get('k13'), 13)
})

t.test('an entry hit again and again stays while the rest turns over', async t => {
  const hot = createHotTier({ maxEntries: 100, maxBytes: 1e6 })
  hot.set('hot', 'value', 1, [], 60_000)
  let kept = 0
  for (let i = 0; i < 1000 && hot.get('hot') === 'value'; i++) {
    hot.set(`cold${i}`, i, 1, [], 60_000)
    kept = i + 1
  }
  t.equal(kept, 1000, 'still there after 1,000 others were stored')
  t.equal(hot.stats().entries, 100)
})

t.test('bounded by bytes', async t => {
  const hot = createHotTier({ maxEntries: 100, maxBytes: 10 })
  hot.set('a', 'a', 4, [], 60_000)
  hot.set('b', 'b', 4, [], 60_000)
  hot.set('c', 'c', 4, [], 60_000)
  t.same(hot.stats(), { entries: 2, bytes: 8 })
  t.equal(hot.get('a'), undefined, 'the oldest made room')
  hot.set('huge', 'x', 11, [], 60_000)
  t.equal(hot.get('huge'), undefined, 'a value over the cap is not kept')
})

t.test('invalidation by reference, expiry and clear', async t => {
  const hot = createHotTier({ maxEntries: 100, maxBytes: 1e6 })
  hot.set('page', 'p', 1, ['article:1', 'article:2'], 60_000)
  hot.set('one', 'o', 1, ['article:1'], 60_000)
  hot.set('other', 'x', 1, ['article:3'], 60_000)
  t.equal(hot.invalidate(['article:1']), 2, 'both entries built from article:1')
  t.equal(hot.get('page'), undefined)
  t.equal(hot.get('other'), 'x')
  t.equal(hot.invalidate(['article:2']), 0, 'references of evicted entries are forgotten')
  hot.set('brief', 'b', 1, [], 10)
  t.equal(hot.get('brief', Date.now() + 11), undefined, 'expired')
  hot.clear()
  t.same(hot.stats(), { entries: 0, bytes: 0 })
})
