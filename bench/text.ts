import { intBetween, pick, type Random } from './zipf.js'

// ASCII only: autocannon joins body chunks as strings, and a multi-byte character split across
// two chunks would turn a correct response into a parse failure.
const WORDS = (
  'api cache latency throughput query index schema migration deploy rollback container cluster ' +
  'node event loop stream buffer socket request response header cookie session token secret ' +
  'hash password queue worker thread process memory heap garbage collector profile trace metric ' +
  'log alert dashboard incident review design pattern module package bundle build test lint ' +
  'type interface generic function closure promise async await callback error retry timeout ' +
  'backoff circuit breaker gateway proxy router handler plugin hook decorator middleware server ' +
  'client browser render component state store reducer action effect signal template style ' +
  'layout grid flex animation image font color theme mobile desktop tablet screen pixel vector ' +
  'graph tree list map set array object string number boolean null value key field record row ' +
  'column table join filter sort group limit offset page cursor batch bulk insert update delete ' +
  'select transaction lock deadlock replica primary shard partition backup restore snapshot ' +
  'volume disk network bandwidth packet route domain certificate tls encryption signature ' +
  'audit policy role permission user team project roadmap sprint release version change ' +
  'feature flag experiment rollout canary blue green shadow traffic load spike peak baseline ' +
  'budget cost saving scale growth simple clear fast small robust careful honest practical'
).split(' ')

const LANGS = ['js', 'ts', 'sql', 'sh', 'json']

export function words (random: Random, min: number, max: number): string {
  const n = intBetween(random, min, max)
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(pick(random, WORDS))
  return out.join(' ')
}

export function sentence (random: Random, min = 6, max = 18): string {
  const text = words(random, min, max)
  return text.charAt(0).toUpperCase() + text.slice(1) + '.'
}

export function title (random: Random): string {
  return words(random, 3, 8).split(' ').map(w => w.charAt(0).toUpperCase() + w.slice(1)).join(' ')
}

export function paragraph (random: Random, sentences: number): string {
  const out: string[] = []
  for (let i = 0; i < sentences; i++) {
    let s = sentence(random)
    const roll = random()
    if (roll < 0.15) s = s.replace(/ (\w+) /, ' **$1** ')
    else if (roll < 0.3) s = s.replace(/ (\w+) /, ' `$1` ')
    out.push(s)
  }
  return out.join(' ')
}

/** A markdown article body of about `targetBytes` bytes: headings, paragraphs, lists and code. */
export function markdown (random: Random, targetBytes: number): string {
  const parts: string[] = []
  let size = 0
  while (size < targetBytes) {
    const roll = random()
    let part: string
    if (parts.length > 0 && roll < 0.12) {
      part = `## ${title(random)}`
    } else if (roll < 0.24) {
      const items: string[] = []
      for (let i = intBetween(random, 2, 5); i > 0; i--) items.push(`- ${words(random, 3, 10)}`)
      part = items.join('\n')
    } else if (roll < 0.32) {
      const lines: string[] = []
      for (let i = intBetween(random, 2, 6); i > 0; i--) {
        lines.push(`const ${pick(random, WORDS)} = ${pick(random, WORDS)}(${pick(random, WORDS)})`)
      }
      part = '```' + pick(random, LANGS) + '\n' + lines.join('\n') + '\n```'
    } else {
      part = paragraph(random, intBetween(random, 2, 6))
    }
    parts.push(part)
    size += part.length + 2
  }
  return parts.join('\n\n').slice(0, targetBytes).trimEnd()
}

export function slugify (text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '')
}
