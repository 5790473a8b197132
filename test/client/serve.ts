// The app on a port of its own, for the tests that call it over HTTP through the client.
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { build } from '../helper.js'

/** The app on a fresh database, listening on a free port until the test ends; returns its API's base URL. */
export async function serve (t: Test, env: Record<string, string> = {}): Promise<string> {
  const app = await build(t, env)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api`
}
