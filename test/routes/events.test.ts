import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp } from '../../src/app.js'
import { openStore } from '../../src/store/open.js'
import type { Store } from '../../src/store/port.js'
import eventRoutes, { type PatchStreamEvent } from '../../src/routes/events.js'
import { auth, signedHeaders, testApp, testConfig } from '../helper.js'

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

interface SseMessage {
  event?: string
  id?: string
  data: string
}

function parseSse(text: string): { messages: SseMessage[]; comments: string[] } {
  const messages: SseMessage[] = []
  const comments: string[] = []
  for (const block of text.split('\n\n')) {
    if (block.trim() === '') continue
    const msg: SseMessage = { data: '' }
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments.push(line.slice(1).trim())
      else if (line.startsWith('event: ')) msg.event = line.slice(7)
      else if (line.startsWith('id: ')) msg.id = line.slice(4)
      else if (line.startsWith('data: ')) msg.data += line.slice(6)
    }
    if (msg.event || msg.data) messages.push(msg)
  }
  return { messages, comments }
}

const events = (text: string) => parseSse(text).messages.map((m) => ({ ...m, json: JSON.parse(m.data) as PatchStreamEvent }))

/** Reads a live stream chunk by chunk until `done` says enough (or the stream ends). */
async function readUntil(res: Response, done: (text: string) => boolean, timeoutMs = 5000): Promise<{ text: string; ended: boolean }> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ''
  const deadline = AbortSignal.timeout(timeoutMs)
  try {
    while (!done(text)) {
      const next = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => deadline.addEventListener('abort', () => reject(new Error(`stream stalled; got: ${text}`)), { once: true })),
      ])
      if (next.done) return { text, ended: true }
      text += next.value
    }
    return { text, ended: false }
  } finally {
    reader.releaseLock()
  }
}

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

  it('accepts a Standard Webhooks signature over the empty body', async () => {
    const app = await testApp()
    const id = await enqueue(app)
    await app.store.cancel(id)
    const headers = signedHeaders('')
    const res = await app.inject({ method: 'GET', url: `/patches/${id}/events`, headers })
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(events(res.body).map((e) => e.json.status), ['queued', 'cancelled'])
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

    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let text = ''
    const until = async (status: string) => {
      while (!events(text).some((e) => e.json.status === status)) {
        const next = await reader.read()
        assert.ok(!next.done, `stream ended before ${status}: ${text}`)
        text += next.value
      }
    }
    await until('queued')
    const { token } = await claim(runner)
    await until('running')
    assert.ok(await runner.fail(id, token, 'failed', { code: 'CHECK_FAILED', message: 'check test failed' }, null))
    await until('failed')
    for (;;) {
      const next = await reader.read()
      if (next.done) break
      text += next.value
    }
    assert.deepEqual(events(text).map((e) => e.json.status), ['queued', 'running', 'failed'])
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

  it('stops polling the store when the client goes away', async () => {
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
      const ac = new AbortController()
      const res = await fetch(`${url}/patches/${id}/events`, { headers: auth, signal: ac.signal })
      await readUntil(res, (t) => events(t).length === 1)
      await sleep(600)
      assert.ok(reads >= 2, `the stream polls while open (reads: ${reads})`)
      ac.abort()
      await sleep(300)
      const after = reads
      await sleep(800)
      assert.equal(reads, after, 'no store reads after the client closed the stream')
    } finally {
      await app.close()
      await store.close()
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
