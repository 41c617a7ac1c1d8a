import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { InjectOptions } from 'fastify'
import { testApp } from '../helper.js'

// The only routes anyone may call without credentials (/metrics joins them only when
// GHOST_METRICS_PUBLIC says so; the default is checked here).
const PUBLIC = [/^\/health(\/(live|startup|ready))?$/, /^\/docs(\/.*)?$/, /^\/openapi\.json$/]

/** Every (method, path) the app serves, read from its route tree so a new route cannot be missed. */
function routes(tree: string): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = []
  const stack: string[] = []
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (.*?) \(([A-Z, ]+)\)$/.exec(line)
    if (!m) continue
    const depth = m[1]!.length / 4
    stack.length = depth
    stack.push(m[2]!)
    const path = stack.join('').replace(/\/\/+/g, '/')
    for (const method of m[3]!.split(', ')) out.push({ method, path })
  }
  return out
}

it('every route other than health, docs and openapi answers 401 UNAUTHORIZED without credentials or with a wrong token', async () => {
  const app = await testApp()
  const all = routes(app.printRoutes({ commonPrefix: false }))
  assert.ok(all.length >= 15, `only ${all.length} routes parsed from the route tree`)
  for (const pattern of PUBLIC) assert.ok(all.some((r) => pattern.test(r.path)), `public route ${pattern} no longer exists`)

  const isProtected = all.filter((r) => !PUBLIC.some((p) => p.test(r.path)))
  const paths = new Set(isProtected.map((r) => r.path))
  for (const known of ['/webhook', '/patches', '/patches/:id', '/patches/:id/cancel', '/patches/:id/events', '/mcp', '/metrics']) {
    assert.ok(paths.has(known), `${known} missing from the protected routes parsed: ${[...paths].join(', ')}`)
  }
  for (const { method, path } of isProtected) {
    const url = path.replace(':id', 'pt_0mx0k8cw37Uh0rABtekjp').replace('*', 'x')
    for (const headers of [{}, { authorization: 'Bearer not-the-token-0123456789' }]) {
      const res = await app.inject({ method: method as InjectOptions['method'], url, headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, payload: method === 'GET' || method === 'HEAD' ? undefined : '{}' })
      assert.equal(res.statusCode, 401, `${method} ${url} ${JSON.stringify(headers)}: ${res.statusCode} ${res.body.slice(0, 200)}`)
      if (method !== 'HEAD') assert.equal(res.json().code, 'UNAUTHORIZED')
    }
  }
})
