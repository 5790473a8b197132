// One place that wraps a pg connection's query(): both of pg's forms (a callback, which
// pool.query uses, or a promise) report to an observer when the query was sent and when it ended.
import type pg from 'pg'

export interface QueryObserver {
  /** Right after pg took the query (it sends it at once when the connection is idle). */
  sent?: () => void
  /** With the error, if it failed; before the caller hears of it. */
  finished: (err?: unknown) => void
}

/** Calls `observe` for every query of this connection, with the query's first argument. */
export function observeQueries (client: pg.PoolClient, observe: (query: unknown) => QueryObserver): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown
  client.query = ((...args: unknown[]) => {
    const observer = observe(args[0])
    const last = args.length - 1
    const callback = args[last]
    if (typeof callback === 'function') {
      args[last] = (...results: unknown[]) => {
        observer.finished(results[0] ?? undefined)
        return (callback as (...r: unknown[]) => unknown)(...results)
      }
    }
    const result = query(...args)
    observer.sent?.()
    if (result instanceof Promise) result.then(() => observer.finished(), err => observer.finished(err))
    return result
  }) as typeof client.query
}
