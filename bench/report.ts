import { readFileSync } from 'node:fs'
import { failures, type RunResults, type ScenarioResult } from './results.js'

const ms = (n: number) => n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)
const int = (n: number) => Math.round(n).toLocaleString('en-US')
const mb = (kb: number | undefined) => kb === undefined ? '-' : (kb / 1024).toFixed(0)

function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(row => (row[i] ?? '').length)))
  // The first column is a name (left-aligned); the rest are figures (right-aligned).
  const line = (cells: string[]) => cells.map((c, i) => i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)).join('  ')
  return [line(header), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export function resultsTable (scenarios: ScenarioResult[]): string {
  return table(
    ['scenario', 'req/s', 'p50 ms', 'p90 ms', 'p95 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'failed', 'RSS MB', 'srv CPU', 'x baseline'],
    scenarios.map(r => [
      r.name, int(r.rps), ms(r.latency.p50), ms(r.latency.p90), ms(r.latency.p95), ms(r.latency.p99), ms(r.latency.max),
      String(r.errors), String(r.non2xx), String(failures(r)), mb(r.peakRssKb),
      r.serverCpu === undefined ? '-' : `${r.serverCpu.toFixed(0)}%`,
      r.ratio === undefined ? '-' : r.ratio.toFixed(3)
    ])
  )
}

export function readResults (file: string): RunResults {
  const results = JSON.parse(readFileSync(file, 'utf8')) as RunResults
  if (results.version !== 1 || !Array.isArray(results.scenarios)) throw new Error(`${file} is not a bench results file`)
  return results
}

const change = (a: number, b: number) => {
  if (a === 0) return b === 0 ? '0%' : 'new'
  const pct = 100 * (b - a) / a
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`
}

/** Per scenario, B against A: throughput up is better, latency down is better. */
export function compareResults (a: RunResults, b: RunResults): string {
  const names = [...new Set([...a.scenarios.map(s => s.name), ...b.scenarios.map(s => s.name)])]
  const rows = names.map(name => {
    const x = a.scenarios.find(s => s.name === name)
    const y = b.scenarios.find(s => s.name === name)
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
  return [
    `A: ${a.startedAt} (${a.options.duration} s per scenario)`,
    `B: ${b.startedAt} (${b.options.duration} s per scenario)`,
    ...notes,
    '',
    table(['scenario', 'req/s A', 'req/s B', 'change', 'p95 A', 'p95 B', 'change', 'p99 A', 'p99 B', 'change'], rows)
  ].join('\n')
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

const COLORS = ['#4e79a7', '#59a14f', '#f28e2b', '#e15759']

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
  /** text above each bar of the first series */
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
      parts.push(`<text x="${cx.toFixed(1)}" y="${(y(series[0]?.values[g] ?? 0) - 4).toFixed(1)}" text-anchor="middle" font-size="11">${esc(label)}</text>`)
    }
    parts.push(`<text transform="translate(${cx.toFixed(1)},${top + plotH + 12}) rotate(35)" font-size="11">${esc(group)}</text>`)
  })
  if (opts.line !== undefined) {
    parts.push(`<line x1="${left}" x2="${width - 20}" y1="${y(opts.line.value)}" y2="${y(opts.line.value)}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${width - 22}" y="${y(opts.line.value) - 4}" text-anchor="end" font-size="11" fill="#c00" stroke="#fff" stroke-width="3" paint-order="stroke">${esc(opts.line.label)}</text>`)
  }
  const legend = series.map((s, k) => `<rect x="${left + k * 90}" y="6" width="10" height="10" fill="${COLORS[k % COLORS.length]}"/><text x="${left + k * 90 + 14}" y="15" font-size="12">${esc(s.name)}</text>`)
  return `<figure><figcaption>${esc(opts.title)} (${esc(opts.unit)})</figcaption>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" font-family="sans-serif">
<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#999"/>
<line x1="${left}" x2="${width - 20}" y1="${top + plotH}" y2="${top + plotH}" stroke="#999"/>
${legend.join('\n')}
${parts.join('\n')}
</svg></figure>`
}

/** A self-contained page (no scripts, no external assets): charts plus the table. */
export function htmlReport (results: RunResults, p95BudgetMs: number | undefined): string {
  const s = results.scenarios
  const names = s.map(r => r.name)
  const latency = barChart({
    title: 'Latency percentiles per scenario',
    unit: 'ms',
    groups: names,
    series: (['p50', 'p90', 'p95', 'p99'] as const).map(p => ({ name: p, values: s.map(r => r.latency[p]) })),
    line: p95BudgetMs === undefined ? undefined : { value: p95BudgetMs, label: `p95 budget ${p95BudgetMs} ms` }
  })
  const throughput = barChart({
    title: 'Throughput per scenario',
    unit: 'req/s',
    groups: names,
    series: [{ name: 'req/s', values: s.map(r => r.rps) }],
    labels: s.map(r => r.ratio === undefined ? int(r.rps) : `${int(r.rps)} (${r.ratio.toFixed(2)}x)`)
  })
  const o = results.options
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gravity BFF bench ${esc(results.startedAt)}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1000px }
table { border-collapse: collapse; font-size: 13px } td, th { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right }
td:first-child, th:first-child { text-align: left } figure { margin: 2em 0 } figcaption { font-weight: bold }
.bad { color: #c00; font-weight: bold } pre { background: #f6f6f6; padding: 1em; white-space: pre-wrap }
</style></head><body>
<h1>Gravity BFF bench</h1>
<p>${esc(results.startedAt)} &middot; node ${esc(results.node)} &middot; ${esc(results.cpus)} &middot; ${results.pinned ? 'service on CPU 0, load on CPU 1' : 'not pinned'}<br>
scale ${o.scale} (${results.seed.counts.users} users, ${results.seed.counts.articles} articles), ${o.connections} connections,
${o.duration} s per scenario after ${o.warmup} s warm-up${o.ci ? ' (ci)' : ''}</p>
${results.breaches.length > 0 ? `<p class="bad">Over budget:</p><pre>${esc(results.breaches.join('\n'))}</pre>` : '<p>Within budget.</p>'}
${latency}
${throughput}
<table><tr><th>scenario</th><th>req/s</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th><th>errors</th><th>non-2xx</th><th>failed</th><th>RSS MB</th><th>&times; baseline</th></tr>
${s.map(r => `<tr><td title="${esc(r.description)}">${esc(r.name)}</td><td>${int(r.rps)}</td><td>${ms(r.latency.p50)}</td><td>${ms(r.latency.p90)}</td><td>${ms(r.latency.p95)}</td><td>${ms(r.latency.p99)}</td><td>${ms(r.latency.max)}</td><td>${r.errors}</td><td>${r.non2xx}</td><td>${failures(r)}</td><td>${mb(r.peakRssKb)}</td><td>${r.ratio?.toFixed(3) ?? '-'}</td></tr>`).join('\n')}
</table>
</body></html>
`
}
