import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs'
import { percentiles } from './load.js'
import type { DataSources } from './results.js'

/** Bytes in the service's log so far: read before and after a run to get that run's lines. */
export function logSize (file: string): number {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}

function readRange (file: string, from: number, to?: number): string {
  const fd = openSync(file, 'r')
  try {
    const end = to ?? fstatSync(fd).size
    const buffer = Buffer.alloc(Math.max(0, end - from))
    let read = 0
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, from + read)
      if (n === 0) break
      read += n
    }
    return buffer.toString('utf8', 0, read)
  } finally {
    closeSync(fd)
  }
}

const RESPONSE_TIME = /"responseTime":([0-9.]+)/

/**
 * From the service's request log lines written between two offsets: how many requests were served
 * from the in-process tier, Redis or PostgreSQL (the `data` field: the slowest tier a request
 * touched; absent when it read nothing cacheable) and the service-side latency (responseTime).
 */
export function dataSources (file: string, from: number, to?: number): DataSources | undefined {
  let text: string
  try {
    text = readRange(file, from, to)
  } catch {
    return undefined
  }
  const sources: DataSources = { requests: 0, hot: 0, redis: 0, postgres: 0 }
  const times: number[] = []
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end === -1) end = text.length
    const line = text.slice(start, end)
    start = end + 1
    if (!line.includes('"msg":"request completed"')) continue
    sources.requests++
    if (line.includes('"data":"hot"')) sources.hot++
    else if (line.includes('"data":"redis"')) sources.redis++
    else if (line.includes('"data":"postgres"')) sources.postgres++
    const match = RESPONSE_TIME.exec(line)
    if (match) times.push(Number(match[1]))
  }
  if (sources.requests === 0) return undefined
  const latency = percentiles(Float64Array.from(times))
  sources.serverP50 = latency.p50
  sources.serverP99 = latency.p99
  return sources
}
