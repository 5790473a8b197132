import t from 'tap'
import { slugify } from '../../src/lib/slug.js'

const SUFFIX = /-[0-9a-f]{8}$/
const SHAPE = /^[a-z0-9]+(?:-[a-z0-9]+)*-[0-9a-f]{8}$/

/** The slug without its random suffix. */
const words = (slug: string) => slug.replace(SUFFIX, '')

t.test('ASCII titles: lower case words joined by hyphens, plus a random suffix', async t => {
  t.match(slugify('How to train your dragon'), /^how-to-train-your-dragon-[0-9a-f]{8}$/)
  t.equal(words(slugify('  Hello,   World!  ')), 'hello-world')
  t.equal(words(slugify('C++ & Rust: 2024 edition')), 'c-rust-2024-edition')
  t.equal(words(slugify('already-a-slug')), 'already-a-slug')
  t.equal(words(slugify('under_score.dot/slash?q=1#x')), 'under-score-dot-slash-q-1-x')
})

t.test('accented letters fold to ASCII', async t => {
  t.match(slugify('Crème brûlée'), /^creme-brulee-[0-9a-f]{8}$/)
  t.equal(words(slugify('Über façade naïve Ångström Señor')), 'uber-facade-naive-angstrom-senor')
  t.equal(words(slugify('Hello wörld')), 'hello-world')
  t.equal(words(slugify('Ｆｕｌｌｗｉｄｔｈ ﬁ ①')), 'fullwidth-fi-1', 'compatibility forms fold too')
  t.equal(words(slugify('İstanbul')), 'istanbul')
})

t.test('a title with no ASCII letters or digits: article-xxxxxxxx', async t => {
  for (const title of ['日本語のタイトル', 'Привет', '🙂🙃', '!!!', '---', '   ', '', 'ـــ', '\u0301\u0301']) {
    t.match(slugify(title), /^article-[0-9a-f]{8}$/, JSON.stringify(title))
  }
})

t.test('mixed scripts keep the ASCII part', async t => {
  t.equal(words(slugify('Tokyo 東京 2020')), 'tokyo-2020')
})

t.test('the same title twice gives two slugs', async t => {
  const slugs = new Set(Array.from({ length: 1000 }, () => slugify('Same title')))
  t.equal(slugs.size, 1000)
  for (const slug of slugs) t.equal(words(slug), 'same-title')
})

t.test('only [a-z0-9-], no leading, trailing or double hyphens', async t => {
  const titles = [
    'Crème brûlée', '--leading and trailing--', 'a  --  b', 'UPPER lower MiXeD', '<script>alert(1)</script>',
    "Robert'); DROP TABLE articles;--", '../../etc/passwd', '%2e%2e%2f', 'tab\there\nnewline', 'emoji 🎉 in the middle',
    '\u0000null\u0000', 'a\u200bzero\u200bwidth', 'x'.repeat(500), `${'a'.repeat(79)} b`, `${'a'.repeat(80)}-b`, `${'ab '.repeat(40)}`
  ]
  for (const title of titles) {
    const slug = slugify(title)
    t.match(slug, SHAPE, `${JSON.stringify(title.slice(0, 40))} → ${slug}`)
  }
})

t.test('random titles always give a well-formed slug', async t => {
  let bad = 0
  for (let i = 0; i < 2000; i++) {
    const length = Math.floor(Math.random() * 120)
    const title = Array.from({ length }, () => String.fromCodePoint(Math.floor(Math.random() * 0x3000))).join('')
    const slug = slugify(title)
    if (!SHAPE.test(slug) || slug.length > 89) {
      bad++
      t.fail(`${JSON.stringify(title)} → ${slug}`)
    }
  }
  t.equal(bad, 0)
})

t.test('the length is bounded', async t => {
  const slug = slugify('word '.repeat(1000))
  t.ok(slug.length <= 89, `80 + "-" + 8: ${slug.length}`)
  t.match(slug, SHAPE)
  t.ok(words(slugify('x'.repeat(10_000))).length <= 80)
  t.equal(words(slugify('x'.repeat(10_000))), 'x'.repeat(80))
  t.equal(words(slugify(`${'a'.repeat(79)} bcd`)), 'a'.repeat(79), 'a hyphen cut at the limit is dropped')
  t.ok(slugify('🙂'.repeat(10_000)).length <= 89)
})

t.test('letters NFKD leaves alone are folded to ASCII too', async t => {
  t.match(slugify('Straße'), /^strasse-[0-9a-f]{8}$/)
  t.match(slugify('Æble og Ørred'), /^aeble-og-orred-[0-9a-f]{8}$/)
})
