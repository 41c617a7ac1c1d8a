import { after, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import Fastify from 'fastify'
import { buildApp, type BuildOptions } from '../../src/app.js'
import type { ConfigOverrides } from '../../src/config.js'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import { auth, tempDir, testConfig } from '../helpers/app.js'
import { TOKENS, bearer, scopedOverrides } from '../helpers/credentials.js'
import { recordResponses, responseChecker } from './record-responses.js'

const checker = responseChecker()
const violations: string[] = []
const seen = new Set<string>()
const record = recordResponses(violations, ({ operationId, status }) => seen.add(`${operationId} ${status}`))

/** The real app, each response checked against openapi.yaml and counted by operation and status. */
async function contractApp(overrides: ConfigOverrides = {}, opts: BuildOptions = {}) {
  const app = await buildApp(testConfig({ ...scopedOverrides(), ...overrides }), { ...opts, instrument: record })
  after(() => app.close())
  return app
}
type App = Awaited<ReturnType<typeof contractApp>>

const patch = (n: number, target = 'default') => ({ target, description: `p${n}`, operations: [{ op: 'write', path: `f${n}.txt`, contents: `${n}\n` }] })
const until = async (what: string, cond: () => Promise<boolean>, ms = 10_000) => {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const PROTECTED = (id: string) => [
  { method: 'GET', url: '/metrics' },
  { method: 'POST', url: '/webhook', payload: patch(0) },
  { method: 'GET', url: `/patches/${id}` },
  { method: 'GET', url: '/patches' },
  { method: 'POST', url: `/patches/${id}/cancel` },
  { method: 'GET', url: `/patches/${id}/events` },
  { method: 'GET', url: `/patches/${id}/diff` },
  { method: 'POST', url: '/patches/preview', payload: patch(0) },
  { method: 'GET', url: '/queues' },
  { method: 'GET', url: '/events' },
] as const

it('the response checker fails a response that departs from the contract, and passes one that keeps it', async () => {
  const ok = { method: 'GET', route: '/patches/:id', status: 404, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify({ type: 'about:blank', title: 'No patch x', status: 404, code: 'NOT_FOUND' }) }
  assert.deepEqual(checker.check(ok), [])
  assert.match(checker.check({ ...ok, status: 418 }).join(), /does not document status 418/)
  assert.match(checker.check({ ...ok, headers: { 'content-type': 'text/html' } }).join(), /content type "text\/html" is not documented/)
  assert.match(checker.check({ ...ok, body: '{"title":"x"}' }).join(), /must have required property 'code'/)
  assert.match(checker.check({ ...ok, route: '/nowhere' }).join(), /not in openapi.yaml/)
  assert.match(checker.check({ ...ok, status: 429, body: JSON.stringify({ type: 'about:blank', title: 't', status: 429, code: 'RATE_LIMITED' }) }).join(), /required header Retry-After is missing/)
  assert.match(checker.check({ ...ok, status: 429, headers: { ...ok.headers, 'retry-after': 'soon' }, body: JSON.stringify({ type: 'about:blank', title: 't', status: 429, code: 'RATE_LIMITED' }) }).join(), /header Retry-After: \/ must be integer/)
  const sse = { method: 'GET', route: '/patches/:id/events', status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' } }
  const event = { id: 'p', target: 'default', seq: 1, at: new Date().toISOString(), status: 'queued', reason: 'accepted', detail: null }
  assert.deepEqual(checker.check({ ...sse, body: `event: status\nid: 1\ndata: ${JSON.stringify(event)}\n\n: heartbeat\n\n` }), [])
  assert.match(checker.check({ ...sse, body: `event: status\nid: 1\ndata: ${JSON.stringify({ ...event, status: 'lost' })}\n\n` }).join(), /body \/0\/data\/status/)

  // And through the hook, on a server whose route answers what the contract does not say.
  const found: string[] = []
  const rogue = Fastify()
  await rogue.register(recordResponses(found))
  rogue.get('/patches/:id', async () => ({ id: 1 }))
  await rogue.inject({ method: 'GET', url: '/patches/x' })
  await rogue.close()
  assert.match(found.join('\n'), /GET \/patches\/:id → 200: body/)
})

it('every status each operation documents is one the service sends, and each answer keeps the contract', { timeout: 120_000 }, async () => {
  // A server that runs no patches: queued ones stay queued, to be cancelled.
  const main = await contractApp({ limits: { streamsPerPrincipal: 1 } })
  await main.listen({ host: '127.0.0.1', port: 0 })
  const inject = main.inject.bind(main)
  await until('a started, ready server', async () => (await inject({ url: '/health/ready' })).statusCode === 200)
  await inject({ url: '/openapi.json' })
  for (const accept of ['application/json', 'application/health+json']) await inject({ url: '/health', headers: { accept } })
  await inject({ url: '/health/live' })
  await inject({ url: '/health/startup' })
  await inject({ url: '/metrics', headers: auth })
  await inject({ url: '/metrics' })
  await inject({ url: '/metrics', headers: bearer(TOKENS.docsDispatcher) })

  const key = { ...auth, 'idempotency-key': 'k-1' }
  const created = await inject({ method: 'POST', url: '/webhook', headers: key, payload: patch(1) })
  assert.equal(created.statusCode, 202)
  const id = created.json().id as string
  assert.equal((await inject({ method: 'POST', url: '/webhook', headers: key, payload: patch(1) })).statusCode, 200)
  assert.equal((await inject({ method: 'POST', url: '/webhook', headers: key, payload: patch(2) })).statusCode, 409)
  assert.equal((await inject({ method: 'POST', url: '/webhook', headers: auth, payload: { target: 'default', operations: [{ op: 'write' }] } })).statusCode, 400)
  assert.equal((await inject({ method: 'POST', url: '/webhook', payload: patch(3) })).statusCode, 401)
  assert.equal((await inject({ method: 'POST', url: '/webhook', headers: bearer(TOKENS.docsDispatcher), payload: patch(3) })).statusCode, 403)
  assert.equal((await inject({ method: 'POST', url: '/webhook', headers: { ...auth, 'content-type': 'application/json' }, payload: 'x'.repeat(5 * 1024 * 1024) })).statusCode, 413)
  assert.equal((await inject({ method: 'POST', url: '/webhook', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'hello' })).statusCode, 415)
  assert.equal((await inject({ method: 'POST', url: '/webhook', headers: auth, payload: patch(4, 'nowhere') })).statusCode, 422)

  // A preview: the change, a rejection, and what the webhook refuses.
  const preview = (payload: unknown, headers: Record<string, string> = auth) => inject({ method: 'POST', url: '/patches/preview', headers, payload: payload as object })
  assert.equal((await preview(patch(10))).statusCode, 200)
  assert.equal((await preview({ target: 'default', operations: [{ op: 'replace', path: 'README.md', find: 'absent', replace: 'x' }] })).statusCode, 422)
  assert.equal((await preview({ target: 'default', operations: [{ op: 'write' }] })).statusCode, 400)
  assert.equal((await inject({ method: 'POST', url: '/patches/preview', payload: patch(10) })).statusCode, 401)
  assert.equal((await preview(patch(10), bearer(TOKENS.docsDispatcher))).statusCode, 403)
  assert.equal((await inject({ method: 'POST', url: '/patches/preview', headers: { ...auth, 'content-type': 'application/json' }, payload: 'x'.repeat(5 * 1024 * 1024) })).statusCode, 413)
  assert.equal((await inject({ method: 'POST', url: '/patches/preview', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'hello' })).statusCode, 415)
  const gateway = await contractApp({ workspaces: { ...scopedOverrides().workspaces, default: { path: join(tempDir(), 'absent') } } })
  assert.equal((await gateway.inject({ method: 'POST', url: '/patches/preview', headers: auth, payload: patch(11) })).statusCode, 409)

  for (const url of [`/patches/${id}`, '/patches', `/patches/${id}/events`, `/patches/${id}/diff`, '/queues', '/events']) {
    await inject({ url })
    await inject({ url, headers: bearer(TOKENS.scraper) })
  }
  await inject({ url: '/patches/not..an..id', headers: auth })
  await inject({ url: '/patches/not..an..id/events', headers: auth })
  await inject({ url: '/patches/pt_unknown', headers: auth })
  await inject({ url: '/patches/pt_unknown/events', headers: auth })
  await inject({ url: '/patches/not..an..id/diff', headers: auth })
  await inject({ url: '/patches/pt_unknown/diff', headers: auth })
  assert.equal((await inject({ url: `/patches/${id}/diff`, headers: auth })).statusCode, 409)
  assert.equal((await inject({ url: '/queues', headers: auth })).statusCode, 200)
  await inject({ url: `/patches/${id}`, headers: auth })
  await inject({ url: '/patches?limit=0', headers: auth })
  await inject({ url: '/patches', headers: auth })
  for (const headers of [{}, bearer(TOKENS.scraper), auth]) await inject({ method: 'POST', url: '/patches/not..an..id/cancel', headers })
  await inject({ method: 'POST', url: '/patches/pt_unknown/cancel', headers: auth })
  await inject({ method: 'POST', url: `/patches/${id}/cancel` })
  await inject({ method: 'POST', url: `/patches/${id}/cancel`, headers: bearer(TOKENS.scraper) })

  // A stream on a queued patch stays open: the credential's second one is refused (429).
  const queued = (await inject({ method: 'POST', url: '/webhook', headers: auth, payload: patch(5) })).json().id as string
  const { port } = main.server.address() as { port: number }
  const open = new AbortController()
  const first = await fetch(`http://127.0.0.1:${port}/patches/${queued}/events`, { headers: auth, signal: open.signal })
  assert.equal(first.status, 200)
  assert.equal((await inject({ url: `/patches/${queued}/events`, headers: auth })).statusCode, 429)
  assert.equal((await inject({ url: '/events', headers: auth })).statusCode, 429)
  assert.equal((await inject({ method: 'POST', url: `/patches/${queued}/cancel`, headers: auth })).statusCode, 200)
  await first.text()
  assert.equal((await inject({ method: 'POST', url: `/patches/${queued}/cancel`, headers: auth })).statusCode, 409)
  assert.equal((await inject({ url: `/patches/${queued}/events`, headers: auth })).statusCode, 200)
  open.abort()
  // The stream of every change stays open until the client leaves: read its first message.
  const everything = new AbortController()
  const changes = await fetch(`http://127.0.0.1:${port}/events`, { headers: auth, signal: everything.signal })
  assert.equal(changes.status, 200)
  await inject({ method: 'POST', url: '/webhook', headers: auth, payload: patch(8) })
  const reader = changes.body!.getReader()
  assert.match(new TextDecoder().decode((await reader.read()).value), /^event: patch\n/)
  everything.abort()

  // An applied patch's diff: the store records a commit of the workspace, as the runner would.
  const landed = (await inject({ method: 'POST', url: '/webhook', headers: auth, payload: patch(9) })).json().id as string
  for (;;) {
    const claimed = await main.store.claim('runner-contract', { targets: ['default'], leaseMs: 60_000 })
    assert.ok(claimed, 'the patch just queued is claimable')
    if (claimed.record.id !== landed) {
      await main.store.fail(claimed.record.id, claimed.token, 'failed', { code: 'CHECK_FAILED', message: 'not this one' }, { commit: null, tag: null, files: [], checks: [], durations_ms: {} })
      continue
    }
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: main.config.workspaces.default!.path, encoding: 'utf8' }).trim()
    assert.ok(await main.store.complete(landed, claimed.token, { commit: head, tag: null, files: [], checks: [], durations_ms: {} }))
    break
  }
  assert.equal((await inject({ url: `/patches/${landed}/diff`, headers: auth })).statusCode, 200)

  // Failed authentications past the address's limit: 429 on every protected route.
  const exhausted = await contractApp({ limits: { unauthenticatedPerMinute: 1 } })
  await exhausted.inject({ url: '/patches', headers: bearer('not-a-token') })
  for (const req of PROTECTED('pt_unknown')) assert.equal((await exhausted.inject(req)).statusCode, 429, `${req.method} ${req.url}`)

  // The credential's own request rate on POST /webhook.
  const limited = await contractApp({ limits: { ratePerMinute: 1 } })
  await limited.inject({ method: 'POST', url: '/webhook', headers: auth, payload: patch(6) })
  assert.equal((await limited.inject({ method: 'POST', url: '/webhook', headers: auth, payload: patch(7) })).statusCode, 429)

  // A store that no longer answers: 503 STORE_UNAVAILABLE with Retry-After.
  const store = await openSqliteStore({ file: join(tempDir(), 'store.db') })
  const broken = await contractApp({}, { store })
  await store.close()
  // (GET /events reads nothing on open: it stays open without a store.)
  // (POST /patches/preview reads no store either: it answers from the workspace.)
  for (const req of PROTECTED('pt_unknown').slice(1, -1).filter((r) => r.url !== '/patches/preview')) assert.equal((await broken.inject({ ...req, headers: auth })).statusCode, 503, `${req.method} ${req.url}`)

  // Health that is not fine: a critical probe fails (the disk), the event loop is stuck, a
  // probe has not reported yet (starting).
  const sick = await contractApp({ health: { diskWarnMb: 1e12, diskFailMb: 1e12, intervalMs: 100, eventLoopWarnMs: 50, eventLoopFailMs: 150 } })
  for (const accept of ['application/json', 'application/health+json']) assert.equal((await sick.inject({ url: '/health', headers: { accept } })).statusCode, 503)
  await until('an event-loop measurement over the limit', async () => {
    const stop = Date.now() + 400
    while (Date.now() < stop); // blocks the event loop on purpose
    await new Promise((r) => setTimeout(r, 150))
    return (await sick.inject({ url: '/health/live' })).statusCode === 503
  })
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  const starting: App = await buildApp(testConfig(scopedOverrides()), { instrument: record })
  after(async () => {
    release()
    await starting.close()
  })
  starting.probes.register({ name: 'test_slow_start', critical: true, componentType: 'component', timeoutMs: 60_000, check: async () => (await gate, { status: 'pass' }) })
  await starting.ready()
  assert.equal((await starting.inject({ url: '/health/startup' })).statusCode, 503)
  assert.equal((await starting.inject({ url: '/health/ready' })).statusCode, 503)

  // Once the listener has closed, whatever arrives on an open connection: 503 SHUTTING_DOWN.
  const closing = await contractApp()
  closing.lifecycle.markClosing()
  for (const url of ['/openapi.json', '/metrics', '/health', '/health/live', '/events']) assert.equal((await closing.inject({ url, headers: auth })).statusCode, 503, url)
  assert.equal((await closing.inject({ method: 'POST', url: '/patches/preview', headers: auth, payload: patch(12) })).statusCode, 503)

  const documented = Object.values(checker.document.paths).flatMap((item) =>
    Object.values(item).flatMap((op) => Object.keys(op.responses).map((status) => `${op.operationId} ${status}`)),
  )
  assert.deepEqual(documented.filter((d) => !seen.has(d)), [], 'documented statuses no test produced')
  assert.deepEqual(violations, [], 'responses that depart from openapi.yaml')
})
