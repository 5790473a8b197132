import { readFileSync } from 'node:fs'
import { failures, label, type CacheMode, type CoherenceFigures, type CoherenceResult, type RunResults, type ScenarioResult, type TargetResult } from './results.js'

const ms = (n: number) => n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)
const int = (n: number) => Math.round(n).toLocaleString('en-US')
const mb = (kb: number | undefined) => kb === undefined ? '-' : (kb / 1024).toFixed(0)

function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(row => (row[i] ?? '').length)))
  // The first column is a name (left-aligned); the rest are figures (right-aligned).
  const line = (cells: string[]) => cells.map((c, i) => i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)).join('  ')
  return [line(header), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

const pct = (part: number, whole: number) => whole === 0 ? '-' : (100 * part / whole).toFixed(0)

/** `97/2/1`: the shares (%) of requests served from the in-process tier, Redis and PostgreSQL. */
function servedFrom (r: ScenarioResult): string {
  const s = r.sources
  if (s === undefined || r.cache !== 'on' || s.hot + s.redis + s.postgres === 0) return '-'
  return `${pct(s.hot, s.requests)}/${pct(s.redis, s.requests)}/${pct(s.postgres, s.requests)}`
}

export function resultsTable (scenarios: ScenarioResult[]): string {
  return table(
    ['scenario', 'cache', 'req/s', 'p50 ms', 'p90 ms', 'p95 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'failed',
      'srv p99', 'hot/redis/pg %', 'bytes/resp', 'RSS MB', 'srv CPU', 'x baseline', 'x off'],
    scenarios.map(r => [
      r.name, r.cache ?? '-', int(r.rps), ms(r.latency.p50), ms(r.latency.p90), ms(r.latency.p95), ms(r.latency.p99), ms(r.latency.max),
      String(r.errors), String(r.non2xx), String(failures(r)),
      r.sources?.serverP99 === undefined ? '-' : ms(r.sources.serverP99), servedFrom(r),
      (r.bytesPerResponse as number | undefined) === undefined ? '-' : int(r.bytesPerResponse), mb(r.peakRssKb),
      r.serverCpu === undefined ? '-' : `${r.serverCpu.toFixed(0)}%`,
      r.ratio === undefined ? '-' : r.ratio.toFixed(3),
      r.speedup === undefined ? '-' : `${r.speedup.toFixed(1)}x`
    ])
  )
}

/** One line per scenario measured in both modes: what the cache changes. */
export function cacheComparison (scenarios: ScenarioResult[]): string {
  const lines: string[] = []
  for (const on of scenarios.filter(r => r.cache === 'on')) {
    const off = scenarios.find(r => r.cache === 'off' && r.name === on.name)
    if (off === undefined) continue
    lines.push(`  ${on.name.padEnd(20)} ${int(off.rps).padStart(7)} -> ${int(on.rps).padStart(7)} req/s (${(on.rps / off.rps).toFixed(1)}x)` +
      `   p95 ${ms(off.latency.p95).padStart(5)} -> ${ms(on.latency.p95).padStart(5)} ms   p99 ${ms(off.latency.p99).padStart(5)} -> ${ms(on.latency.p99).padStart(5)} ms`)
  }
  return lines.length === 0 ? '' : ['cache off -> on:', ...lines].join('\n')
}

function coherenceRows (c: CoherenceResult): Array<{ what: string, f: CoherenceFigures, first: string }> {
  const first = c.api.firstReads === 0 ? '-' : `${c.api.firstReadFresh}/${c.api.firstReads}`
  return [
    { what: 'sql -> article', f: c.sql.article, first: '-' },
    { what: 'sql -> list', f: c.sql.list, first: '-' },
    { what: 'api -> article', f: c.api.article, first },
    { what: 'api -> list', f: c.api.list, first: '-' }
  ]
}

/** Per cache mode: time from a change to every instance serving it (ms). */
export function coherenceTable (results: CoherenceResult[]): string {
  const rows = results.flatMap(c => coherenceRows(c).map(({ what, f, first }) => [
    `coherence ${what}`, c.cache, String(c.instances), String(f.changes), ms(f.p50), ms(f.p90), ms(f.p99), ms(f.max),
    String(f.timeouts), String(f.errors), String(f.flipBacks), String(f.failures), first
  ]))
  const out = table(['change -> read', 'cache', 'inst', 'changes', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'timeouts', 'errors', 'flip-backs', 'failures', 'first read fresh'], rows)
  const notes = results.flatMap(c => c.sql.notify === undefined
    ? []
    : [`  [${c.cache}] COMMIT -> NOTIFY received by the bench's own LISTEN: p50 ${ms(c.sql.notify.p50)}, p99 ${ms(c.sql.notify.p99)}, max ${ms(c.sql.notify.max)} ms${c.sql.notify.missing > 0 ? `, ${c.sql.notify.missing} never received` : ''}`])
  return notes.length === 0 ? out : [out, ...notes].join('\n')
}

export function targetsTable (targets: TargetResult[]): string {
  return table(['issue target (cache on)', 'met', 'figure'],
    targets.map(t => [t.target, t.met === undefined ? '-' : t.met ? 'yes' : 'NO', t.figure]))
}

export function readResults (file: string): RunResults {
  const results = JSON.parse(readFileSync(file, 'utf8')) as RunResults
  if ((results.version !== 1 && results.version !== 2) || !Array.isArray(results.scenarios)) throw new Error(`${file} is not a bench results file`)
  return results
}

const change = (a: number, b: number) => {
  if (a === 0) return b === 0 ? '0%' : 'new'
  const pct = 100 * (b - a) / a
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`
}

/**
 * Per scenario and cache mode, B against A: throughput up is better, latency down is better. A
 * row without a cache mode (version-1 file) is matched with the other file's rows of any mode.
 */
export function compareResults (a: RunResults, b: RunResults): string {
  const pairs: Array<[ScenarioResult | undefined, ScenarioResult | undefined]> = []
  const usedB = new Set<ScenarioResult>()
  const matches = (x: ScenarioResult, y: ScenarioResult) =>
    x.name === y.name && (x.cache === undefined || y.cache === undefined || x.cache === y.cache)
  for (const x of a.scenarios) {
    const ys = b.scenarios.filter(y => matches(x, y))
    if (ys.length === 0) pairs.push([x, undefined])
    for (const y of ys) {
      pairs.push([x, y])
      usedB.add(y)
    }
  }
  for (const y of b.scenarios) if (!usedB.has(y)) pairs.push([undefined, y])
  const rows = pairs.map(([x, y]) => {
    const name = x === undefined || y === undefined || x.cache === y.cache
      ? label((x ?? y) as ScenarioResult)
      : `${x.name} [${x.cache ?? '-'} vs ${y.cache ?? '-'}]`
    if (x === undefined || y === undefined) return [name, x ? int(x.rps) : '-', y ? int(y.rps) : '-', 'only in ' + (x ? 'A' : 'B'), '', '', '', '', '', '']
    return [
      name,
      int(x.rps), int(y.rps), change(x.rps, y.rps),
      ms(x.latency.p95), ms(y.latency.p95), change(x.latency.p95, y.latency.p95),
      ms(x.latency.p99), ms(y.latency.p99), change(x.latency.p99, y.latency.p99)
    ]
  })
  const notes: string[] = []
  if (a.options.scale !== b.options.scale) notes.push(`note: scale differs (${a.options.scale} vs ${b.options.scale})`)
  if (a.options.connections !== b.options.connections) notes.push(`note: connections differ (${a.options.connections} vs ${b.options.connections})`)
  if (a.pinned !== b.pinned) notes.push('note: one run pinned CPUs and the other did not')
  if (a.version !== b.version) notes.push(`note: results format ${a.version} vs ${b.version}: version-1 rows have no cache mode and are compared with both modes`)
  const out = [
    `A: ${a.startedAt} (${a.options.duration} s per scenario${a.options.cache ? `, cache ${a.options.cache.join('+')}` : ''})`,
    `B: ${b.startedAt} (${b.options.duration} s per scenario${b.options.cache ? `, cache ${b.options.cache.join('+')}` : ''})`,
    ...notes,
    '',
    table(['scenario', 'req/s A', 'req/s B', 'change', 'p95 A', 'p95 B', 'change', 'p99 A', 'p99 B', 'change'], rows)
  ]
  const ca = a.coherence ?? []
  const cb = b.coherence ?? []
  if (ca.length > 0 || cb.length > 0) {
    const modes = [...new Set([...ca, ...cb].map(c => c.cache))]
    const crow: string[][] = []
    for (const mode of modes) {
      const x = ca.find(c => c.cache === mode)
      const y = cb.find(c => c.cache === mode)
      const xr = x === undefined ? [] : coherenceRows(x)
      const yr = y === undefined ? [] : coherenceRows(y)
      for (const what of ['sql -> article', 'sql -> list', 'api -> article', 'api -> list']) {
        const fx = xr.find(r => r.what === what)?.f
        const fy = yr.find(r => r.what === what)?.f
        crow.push([`coherence ${what} [${mode}]`,
          fx ? ms(fx.p50) : '-', fy ? ms(fy.p50) : '-', fx && fy ? change(fx.p50, fy.p50) : '',
          fx ? ms(fx.p99) : '-', fy ? ms(fy.p99) : '-', fx && fy ? change(fx.p99, fy.p99) : '',
          fx ? String(fx.failures) : '-', fy ? String(fy.failures) : '-'])
      }
    }
    out.push('', table(['change -> read', 'p50 A', 'p50 B', 'change', 'p99 A', 'p99 B', 'change', 'fail A', 'fail B'], crow))
  }
  return out.join('\n')
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

const COLORS = ['#4e79a7', '#59a14f', '#f28e2b', '#e15759', '#76b7b2', '#b07aa1']

/** 1, 2, 2.5 or 5 times a power of ten: axis ticks a reader can add up. */
function niceStep (rough: number): number {
  if (!(rough > 0)) return 1
  const power = Math.pow(10, Math.floor(Math.log10(rough)))
  const m = rough / power
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * power
}

/** A grouped bar chart as inline SVG: one group per scenario, one bar per series. */
function barChart (opts: {
  title: string
  unit: string
  groups: string[]
  series: Array<{ name: string, values: number[] }>
  line?: { value: number, label: string }
  /** text above each group's tallest bar */
  labels?: string[]
}): string {
  const { groups, series } = opts
  const width = 960
  const height = 340
  const left = 60
  const bottom = 90
  const top = 30
  const plotH = height - top - bottom
  const plotW = width - left - 20
  const top0 = Math.max(...series.flatMap(s => s.values), opts.line?.value ?? 0) * 1.05
  const step = niceStep(top0 / 5)
  const ticks = Math.max(1, Math.ceil(top0 / step))
  const max = step * ticks
  const groupW = plotW / groups.length
  const barW = Math.max(2, (groupW - 8) / series.length)
  const y = (v: number) => top + plotH - (v / max) * plotH
  const parts: string[] = []
  for (let i = 0; i <= ticks; i++) {
    const v = step * i
    parts.push(`<line x1="${left}" x2="${width - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${Number(v.toPrecision(6)).toLocaleString('en-US')}</text>`)
  }
  groups.forEach((group, g) => {
    series.forEach((s, k) => {
      const v = s.values[g] ?? 0
      const x = left + g * groupW + 4 + k * barW
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${(top + plotH - y(v)).toFixed(1)}" fill="${COLORS[k % COLORS.length]}"><title>${esc(group)} ${esc(s.name)}: ${v.toFixed(2)} ${opts.unit}</title></rect>`)
    })
    const cx = left + g * groupW + groupW / 2
    const label = opts.labels?.[g]
    if (label !== undefined) {
      const tallest = Math.max(...series.map(s => s.values[g] ?? 0))
      parts.push(`<text x="${cx.toFixed(1)}" y="${(y(tallest) - 4).toFixed(1)}" text-anchor="middle" font-size="11">${esc(label)}</text>`)
    }
    parts.push(`<text transform="translate(${cx.toFixed(1)},${top + plotH + 12}) rotate(35)" font-size="11">${esc(group)}</text>`)
  })
  if (opts.line !== undefined) {
    parts.push(`<line x1="${left}" x2="${width - 20}" y1="${y(opts.line.value)}" y2="${y(opts.line.value)}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${width - 22}" y="${y(opts.line.value) - 4}" text-anchor="end" font-size="11" fill="#c00" stroke="#fff" stroke-width="3" paint-order="stroke">${esc(opts.line.label)}</text>`)
  }
  const legend = series.map((s, k) => `<rect x="${left + k * 110}" y="6" width="10" height="10" fill="${COLORS[k % COLORS.length]}"/><text x="${left + k * 110 + 14}" y="15" font-size="12">${esc(s.name)}</text>`)
  return `<figure><figcaption>${esc(opts.title)} (${esc(opts.unit)})</figcaption>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" font-family="sans-serif">
<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#999"/>
<line x1="${left}" x2="${width - 20}" y1="${top + plotH}" y2="${top + plotH}" stroke="#999"/>
${legend.join('\n')}
${parts.join('\n')}
</svg></figure>`
}

const modesOf = (s: ScenarioResult[]): Array<CacheMode | undefined> => {
  const modes = [...new Set(s.map(r => r.cache))]
  // off before on: the bars read left to right as "without, with"
  return modes.sort((a, b) => (a === 'off' ? 0 : 1) - (b === 'off' ? 0 : 1))
}

/** A self-contained page (no scripts, no external assets): charts plus the tables. */
export function htmlReport (results: RunResults, p95BudgetMs: number | undefined): string {
  const s = results.scenarios
  const names = [...new Set(s.map(r => r.name))]
  const modes = modesOf(s)
  const row = (name: string, mode: CacheMode | undefined) => s.find(r => r.name === name && r.cache === mode)
  const suffix = (mode: CacheMode | undefined) => modes.length > 1 && mode !== undefined ? ` ${mode}` : ''
  const percentilesShown = modes.length > 1 ? (['p95', 'p99'] as const) : (['p50', 'p90', 'p95', 'p99'] as const)
  const latency = barChart({
    title: `Latency percentiles per scenario${modes.length > 1 ? ', cache off and on' : ''}`,
    unit: 'ms',
    groups: names,
    series: modes.flatMap(mode => percentilesShown.map(p => ({ name: `${p}${suffix(mode)}`, values: names.map(n => row(n, mode)?.latency[p] ?? 0) }))),
    line: p95BudgetMs === undefined ? undefined : { value: p95BudgetMs, label: `p95 budget ${p95BudgetMs} ms` }
  })
  const throughput = barChart({
    title: `Throughput per scenario${modes.length > 1 ? ', cache off and on (label: cache-on speed-up)' : ', label: ratio to baseline'}`,
    unit: 'req/s',
    groups: names,
    series: modes.map(mode => ({ name: `req/s${suffix(mode)}`, values: names.map(n => row(n, mode)?.rps ?? 0) })),
    labels: names.map(n => {
      const r = row(n, modes[modes.length - 1])
      if (r === undefined) return ''
      if (r.speedup !== undefined) return `${r.speedup.toFixed(1)}x`
      return r.ratio === undefined ? int(r.rps) : `${int(r.rps)} (${r.ratio.toFixed(2)}x)`
    })
  })
  const coherence = results.coherence ?? []
  const coherenceChart = coherence.length === 0
    ? ''
    : barChart({
      title: `Coherence: time from a change until every instance serves it (${coherence.map(c => `${c.cache}: ${c.instances} instances`).join(', ')})`,
      unit: 'ms',
      groups: coherence.flatMap(c => coherenceRows(c).map(r => `${r.what} [${c.cache}]`)),
      series: (['p50', 'p90', 'p99', 'max'] as const).map(p => ({ name: p, values: coherence.flatMap(c => coherenceRows(c).map(r => r.f[p])) }))
    })
  const o = results.options
  const hwm = results.serverHwmKb
  const hwmText = hwm === undefined
    ? ''
    : typeof hwm === 'number' ? ` &middot; service peak RSS ${mb(hwm)} MB` : ` &middot; service peak RSS ${Object.entries(hwm).map(([m, kb]) => `${m} ${mb(kb)} MB`).join(', ')}`
  let coherenceSection = ''
  if (coherence.length > 0) {
    coherenceSection = `<h2>Coherence</h2>
<p>A change made by plain SQL (another client's <code>UPDATE articles SET title</code>; time from COMMIT returning) or through
<code>PUT /api/articles/:slug</code> on one instance (time from its 2xx), until every (other) instance serves it on the article
and on the home page list; ${coherence[0]?.timeoutMs ?? 0} ms timeout, changes ${coherence[0]?.gapMs ?? 0} ms apart.</p>
${coherenceChart}
<table><tr><th>change &rarr; read</th><th>cache</th><th>instances</th><th>changes</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>timeouts</th><th>errors</th><th>flip-backs</th><th>failures</th><th>first read fresh</th></tr>
${coherence.flatMap(c => coherenceRows(c).map(({ what, f, first }) => `<tr class="${c.cache}"><td>${esc(what)}</td><td>${c.cache}</td><td>${c.instances}</td><td>${f.changes}</td><td>${ms(f.p50)}</td><td>${ms(f.p90)}</td><td>${ms(f.p99)}</td><td title="${esc(f.slowest ?? '')}">${ms(f.max)}</td><td>${f.timeouts}</td><td>${f.errors}</td><td>${f.flipBacks}</td><td${f.failures > 0 ? ' class="bad"' : ''}>${f.failures}</td><td>${first}</td></tr>`)).join('\n')}
</table>
${coherence.filter(c => c.sql.notify !== undefined).map(c => `<p>[${c.cache}] COMMIT &rarr; NOTIFY received by the bench's own LISTEN connection (PostgreSQL's part): p50 ${ms(c.sql.notify?.p50 ?? 0)}, p99 ${ms(c.sql.notify?.p99 ?? 0)}, max ${ms(c.sql.notify?.max ?? 0)} ms</p>`).join('\n')}
${coherence.some(c => c.samples.length > 0) ? `<pre>${esc(coherence.flatMap(c => c.samples.map(line => `[${c.cache}] ${line}`)).join('\n'))}</pre>` : ''}`
  }
  const targets = results.targets ?? []
  let targetsSection = ''
  if (targets.length > 0) {
    targetsSection = `<h2>Issue targets (cache on)</h2>
<table><tr><th>target</th><th>met</th><th>figure</th></tr>
${targets.map(t => `<tr><td>${esc(t.target)}</td><td${t.met === false ? ' class="bad"' : ''}>${t.met === undefined ? '-' : t.met ? 'yes' : 'no'}</td><td style="text-align:left">${esc(t.figure)}</td></tr>`).join('\n')}
</table>`
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gravity BFF bench ${esc(results.startedAt)}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1000px }
table { border-collapse: collapse; font-size: 13px; margin: 1em 0 } td, th { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right }
td:first-child, th:first-child { text-align: left } figure { margin: 2em 0 } figcaption { font-weight: bold }
.bad { color: #c00; font-weight: bold } pre { background: #f6f6f6; padding: 1em; white-space: pre-wrap }
tr.on td { background: #f3f8f3 }
</style></head><body>
<h1>Gravity BFF bench</h1>
<p>${esc(results.startedAt)} &middot; node ${esc(results.node)} &middot; ${esc(results.cpus)} &middot; ${results.pinned ? 'service on CPU 0, load on CPU 1' : 'not pinned'}${hwmText}<br>
scale ${o.scale} (${results.seed.counts.users} users, ${results.seed.counts.articles} articles), ${o.connections} connections,
${o.duration} s per scenario after ${o.warmup} s warm-up${o.ci ? ' (ci)' : ''}${o.cache ? ` &middot; cache ${esc(o.cache.join(' and '))}` : ''}${o.redis ? ` (Redis ${esc(o.redis)})` : o.cache?.includes('on') ? ' (in-process cache only, no Redis)' : ''}${o.primeSeconds === undefined ? (o.cache?.includes('on') ? ', cold cache (not primed)' : '') : `, cache primed (${o.primeSeconds.toFixed(0)} s)`}</p>
${results.breaches.length > 0 ? `<p class="bad">Over budget:</p><pre>${esc(results.breaches.join('\n'))}</pre>` : '<p>Within budget.</p>'}
${latency}
${throughput}
<table><tr><th>scenario</th><th>cache</th><th>req/s</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th><th>errors</th><th>non-2xx</th><th>failed</th><th title="service-side p99 (request log responseTime)">srv p99</th><th title="share of requests served from the in-process tier / Redis / PostgreSQL">hot/redis/pg %</th><th>RSS MB</th><th>&times; baseline</th><th>&times; off</th></tr>
${s.map(r => `<tr class="${r.cache ?? ''}"><td title="${esc(r.description)}">${esc(r.name)}</td><td>${r.cache ?? '-'}</td><td>${int(r.rps)}</td><td>${ms(r.latency.p50)}</td><td>${ms(r.latency.p90)}</td><td>${ms(r.latency.p95)}</td><td>${ms(r.latency.p99)}</td><td>${ms(r.latency.max)}</td><td>${r.errors}</td><td>${r.non2xx}</td><td>${failures(r)}</td><td>${r.sources?.serverP99 === undefined ? '-' : ms(r.sources.serverP99)}</td><td>${servedFrom(r)}</td><td>${mb(r.peakRssKb)}</td><td>${r.ratio?.toFixed(3) ?? '-'}</td><td>${r.speedup === undefined ? '-' : `${r.speedup.toFixed(1)}x`}</td></tr>`).join('\n')}
</table>
${coherenceSection}
${targetsSection}
</body></html>
`
}
