import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp } from '../../src/app.js'
import { openStore } from '../../src/store/open.js'
import type { Store } from '../../src/store/port.js'
import eventRoutes from '../../src/routes/events.js'
import type { PatchStreamEvent } from '../../src/schemas/patch-stream.js'
import { parseSse, readUntil, SseReader, type SseMessage } from '../helpers/sse.js'
import { auth, signedHeaders, testApp, testConfig } from '../helpers/app.js'
import { SKIP, freshSchema, openTestStore } from '../store/postgres-fixtures.js'
import { bearer, patchFor, scopedOverrides, TOKENS } from '../helpers/credentials.js'

type App = Awaited<ReturnType<typeof testApp>>

const PATCH = { target: 'default', description: 'events', operations: [{ op: 'write', path: 'e.txt', contents: 'e\n' }] }
const RESULT = { commit: 'c0ffee', tag: null, files: [], checks: [], durations_ms: {} }

async function enqueue(app: App): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: PATCH })
  assert.equal(res.statusCode, 202, res.body)
  return res.json().id
}

/** Plays the runner's part through the store: claim the head of the lane, then finish it. */
async function claim(store: Store) {
  const claimed = await store.claim('test-runner', { targets: null, leaseMs: 30_000 })
  assert.ok(claimed, 'a queued patch to claim')
  return claimed
}

const events = (text: string) => parseSse(text).messages.map((m) => ({ ...m, json: JSON.parse(m.data) as PatchStreamEvent }))
/** Whether a stream's messages include the patch reaching `status`. */
const reached = (status: string) => (messages: SseMessage[]) => messages.some((m) => (JSON.parse(m.data) as PatchStreamEvent).status === status)

async function listening(app: App): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  return `http://127.0.0.1:${port}`
}

describe('GET /patches/{id}/events', () => {
  it('answers 404 problem+json for an unknown patch and 401 without credentials', async () => {
    const app = await testApp()
    const missing = await app.inject({ method: 'GET', url: '/patches/nope/events', headers: auth })
    assert.equal(missing.statusCode, 404)
    assert.match(String(missing.headers['content-type']), /^application\/problem\+json/)
    assert.equal(missing.json().code, 'NOT_FOUND')

    const id = await enqueue(app)
    const anonymous = await app.inject({ method: 'GET', url: `/patches/${id}/events` })
    assert.equal(anonymous.statusCode, 401)
    assert.equal(anonymous.json().code, 'UNAUTHORIZED')
    const badResume = await app.inject({ method: 'GET', url: `/patches/${id}/events`, headers: { ...auth, 'last-event-id': 'x' } })
    assert.equal(badResume.statusCode, 400)
    assert.equal(badResume.json().code, 'VALIDATION_FAILED')
  })

  it('sends the whole history of a final patch, one status event per transition, then closes', async () => {
    const app = await testApp()
    const id = await enqueue(app)
    const { token } = await claim(app.store)
    assert.ok(await app.store.complete(id, token, RESULT))

    const res = await app.inject({ method: 'GET', url: `/patches/${id}/events`, headers: auth })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/event-stream/)
    assert.equal(res.headers['cache-control'], 'no-cache, no-transform')
    const got = events(res.body)
    assert.deepEqual(got.map((e) => [e.event, e.id, e.json.status, e.json.reason]), [
      ['status', '1', 'queued', 'enqueued'],
      ['status', '2', 'running', 'claimed'],
      ['status', '3', 'applied', 'completed'],
    ])
    for (const e of got) {
      assert.equal(e.json.id, id)
      assert.equal(e.json.target, 'default')
      assert.equal(String(e.json.seq), e.id)
      assert.match(e.json.at, /^\d{4}-\d\d-\d\dT/)
    }
    assert.equal(got[2]!.json.detail, 'c0ffee')
  })

  it('resumes after Last-Event-ID', async () => {
    const app = await testApp()
    const id = await enqueue(app)
    const { token } = await claim(app.store)
    assert.ok(await app.store.fail(id, token, 'rejected', { code: 'CONTEXT_NOT_FOUND', message: 'no such text' }, null))

    const res = await app.inject({ method: 'GET', url: `/patches/${id}/events`, headers: { ...auth, 'last-event-id': '1' } })
    assert.deepEqual(events(res.body).map((e) => [e.id, e.json.status, e.json.reason]), [
      ['2', 'running', 'claimed'],
      ['3', 'rejected', 'CONTEXT_NOT_FOUND'],
    ])
    const caughtUp = await app.inject({ method: 'GET', url: `/patches/${id}/events`, headers: { ...auth, 'last-event-id': '3' } })
    assert.equal(caughtUp.statusCode, 200)
    assert.deepEqual(events(caughtUp.body), [], 'a client that has everything gets an empty stream that closes')
  })

  it('takes a bearer token only: a Standard Webhooks signature opens no stream', async () => {
    const app = await testApp()
    const id = await enqueue(app)
    await app.store.cancel(id)
    const res = await app.inject({ method: 'GET', url: `/patches/${id}/events`, headers: signedHeaders('') })
    assert.equal(res.statusCode, 401, res.body)
    assert.equal(res.json().code, 'UNAUTHORIZED')
    assert.match(res.json().detail, /signatures authenticate POST \/webhook only/)
  })

  it('follows only a patch the credential may read: its own streams with who submitted and who cancelled it, another\'s is 404, no read right 403', async () => {
    const app = await testApp(scopedOverrides())
    const url = await listening(app)
    const sent = await app.inject({ method: 'POST', url: '/webhook', headers: bearer(TOKENS.docsAgent), payload: patchFor('docs') })
    assert.equal(sent.statusCode, 202, sent.body)
    const id = sent.json().id as string

    const stream = await fetch(`${url}/patches/${id}/events`, { headers: bearer(TOKENS.docsAgent) })
    assert.equal(stream.status, 200)
    const cancelled = readUntil(stream, (text) => events(text).some((e) => e.json.status === 'cancelled'))
    // With `read: own` in docs, neither another credential's docs patch nor a default one exists.
    for (const token of [TOKENS.docsLead, TOKENS.operator]) {
      const other = await app.inject({ method: 'POST', url: '/webhook', headers: bearer(token), payload: patchFor(token === TOKENS.operator ? 'default' : 'docs') })
      for (const reader of [TOKENS.docsAgent, TOKENS.docsAgentNext]) {
        const res = await app.inject({ method: 'GET', url: `/patches/${other.json().id}/events`, headers: bearer(reader) })
        assert.equal(res.statusCode, 404, res.body)
        assert.equal(res.json().code, 'NOT_FOUND')
      }
    }
    for (const token of [TOKENS.scraper, TOKENS.docsDispatcher]) {
      const res = await app.inject({ method: 'GET', url: `/patches/${id}/events`, headers: bearer(token) })
      assert.equal(res.statusCode, 403, res.body)
      assert.equal(res.json().code, 'FORBIDDEN')
    }
    const cancel = await app.inject({ method: 'POST', url: `/patches/${id}/cancel`, headers: bearer(TOKENS.operator) })
    assert.equal(cancel.statusCode, 200, cancel.body)
    const { text } = await cancelled
    assert.deepEqual(events(text).map((e) => [e.json.status, e.json.reason, e.json.detail]), [
      ['queued', 'enqueued', 'docs-agent'],
      ['cancelled', 'cancelled_by_client', 'operator'],
    ])
  })

  it('streams changes live as they reach the store, then closes after the final status', async () => {
    const config = testConfig()
    const app = await testApp(config)
    // The runner's writes arrive through another connection, as from a `ghost-runner work` process.
    const runner = await openStore(config)
    after(() => runner.close())
    const url = await listening(app)
    const id = await enqueue(app)
    const res = await fetch(`${url}/patches/${id}/events`, { headers: auth })
    assert.equal(res.status, 200)

    const stream = new SseReader(res)
    const until = (status: string) => stream.until(status, reached(status))
    await until('queued')
    const { token } = await claim(runner)
    await until('running')
    assert.ok(await runner.fail(id, token, 'failed', { code: 'CHECK_FAILED', message: 'check test failed' }, null))
    await until('failed')
    await stream.until('the end of the stream', () => stream.ended)
    assert.deepEqual(events(stream.text).map((e) => e.json.status), ['queued', 'running', 'failed'])
  })

  it('sends heartbeat comments while nothing changes', async () => {
    const app = await buildApp(testConfig())
    await app.register(eventRoutes, { prefix: '/fast', heartbeatMs: 40, pollMs: 20 })
    const url = await listening(app)
    try {
      const id = await enqueue(app)
      const ac = new AbortController()
      const res = await fetch(`${url}/fast/patches/${id}/events`, { headers: auth, signal: ac.signal })
      const { text } = await readUntil(res, (t) => parseSse(t).comments.length >= 2)
      assert.deepEqual(parseSse(text).comments.slice(0, 2), ['heartbeat', 'heartbeat'])
      ac.abort()
    } finally {
      await app.close()
    }
  })

  it('reads the store once per change of a patch however many streams follow it, and not at all once they have gone', async () => {
    const config = testConfig()
    const store = await openStore(config)
    let reads = 0
    const counting: Store = Object.assign(Object.create(store) as Store, {
      get: (id: string) => {
        reads++
        return store.get(id)
      },
    })
    const app = await buildApp(config, { store: counting })
    try {
      const url = await listening(app)
      const id = await enqueue(app)
      const streams = await Promise.all(Array.from({ length: 5 }, async () => {
        const ac = new AbortController()
        const res = await fetch(`${url}/patches/${id}/events`, { headers: auth, signal: ac.signal })
        const stream = new SseReader(res)
        const until = (status: string) => stream.until(status, reached(status))
        await until('queued')
        return { ac, until }
      }))
      assert.equal(reads, 5, 'one read to open each stream')
      await sleep(600)
      assert.equal(reads, 5, 'nothing read while nothing changes')

      const { token } = await claim(store)
      await Promise.all(streams.map((s) => s.until('running')))
      assert.equal(reads, 6, 'one read for the change, shared by the five streams')

      for (const s of streams) s.ac.abort()
      await sleep(300)
      const after = reads
      assert.ok(await store.complete(id, token, RESULT))
      await sleep(500)
      assert.equal(reads, after, 'no store reads after the clients closed their streams')
    } finally {
      await app.close()
      await store.close()
    }
  })

  it('delivers transitions made back to back, each once and in order', async () => {
    const config = testConfig()
    const app = await testApp(config)
    const url = await listening(app)
    const id = await enqueue(app)
    const res = await fetch(`${url}/patches/${id}/events`, { headers: auth })
    const live = readUntil(res, (t) => events(t).some((e) => e.json.status === 'applied'))
    const { token } = await claim(app.store)
    assert.ok(await app.store.release(id, token, 'push_race'))
    const again = await claim(app.store)
    assert.ok(await app.store.complete(id, again.token, RESULT))
    const { text } = await live
    assert.deepEqual(events(text).map((e) => [e.id, e.json.status, e.json.reason]), [
      ['1', 'queued', 'enqueued'],
      ['2', 'running', 'claimed'],
      ['3', 'queued', 'push_race'],
      ['4', 'running', 'claimed'],
      ['5', 'applied', 'completed'],
    ])
  })

  it('hears a change made by another process at once, without waiting for the slow safety read', async () => {
    const config = testConfig()
    const app = await buildApp(config)
    // The safety read an hour away: only the store's change notification can deliver in time.
    await app.register(eventRoutes, { prefix: '/slow', pollMs: 3_600_000 })
    const url = await listening(app)
    const other = await openStore(config)
    try {
      const id = await enqueue(app)
      const res = await fetch(`${url}/slow/patches/${id}/events`, { headers: auth })
      const live = readUntil(res, (t) => events(t).some((e) => e.json.status === 'failed'))
      await sleep(100)
      const { token } = await claim(other)
      assert.ok(await other.fail(id, token, 'failed', { code: 'CHECK_FAILED', message: 'check test failed' }, null))
      const { text } = await live
      assert.deepEqual(events(text).map((e) => e.json.status), ['queued', 'running', 'failed'])
    } finally {
      await app.close()
      await other.close()
    }
  })

  it('lets the app close while streams are open, ending them', async () => {
    const app = await buildApp(testConfig())
    const url = await listening(app)
    const id = await enqueue(app)
    const streams = await Promise.all([1, 2].map(() => fetch(`${url}/patches/${id}/events`, { headers: auth })))
    const reads = streams.map((res) => readUntil(res, () => false))
    const started = Date.now()
    await app.close()
    assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms`)
    for (const r of await Promise.all(reads)) {
      assert.ok(r.ended, 'the stream ended')
      assert.deepEqual(events(r.text).map((e) => e.json.status), ['queued'])
    }
  })
})

describe('GET /patches/{id}/events on PostgreSQL', { skip: SKIP }, () => {
  it('a stream on one gateway hears a change another instance made through LISTEN, not the safety read', async () => {
    const schema = freshSchema()
    const [gatewayStore, runnerStore] = [await openTestStore(schema), await openTestStore(schema)]
    const app = await buildApp(testConfig(), { store: gatewayStore })
    await app.register(eventRoutes, { prefix: '/slow', pollMs: 3_600_000 })
    try {
      const url = await listening(app)
      const id = await enqueue(app)
      const res = await fetch(`${url}/slow/patches/${id}/events`, { headers: auth })
      const live = readUntil(res, (t) => events(t).some((e) => e.json.status === 'rejected'), 10_000)
      const { token } = await claim(runnerStore)
      assert.ok(await runnerStore.fail(id, token, 'rejected', { code: 'CONTEXT_NOT_FOUND', message: 'no such text' }, null))
      const { text } = await live
      assert.deepEqual(events(text).map((e) => [e.json.status, e.json.reason]), [
        ['queued', 'enqueued'],
        ['running', 'claimed'],
        ['rejected', 'CONTEXT_NOT_FOUND'],
      ])
    } finally {
      await app.close()
      await Promise.all([gatewayStore.close(), runnerStore.close()])
    }
  })
})
