import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp } from '../../src/app.js'
import allEventRoutes from '../../src/routes/all-events.js'
import type { PatchSummary } from '../../src/schemas/record.js'
import { openStore } from '../../src/store/open.js'
import type { Store } from '../../src/store/port.js'
import { auth, testApp, testConfig } from '../helpers/app.js'
import { SseReader, type SseMessage } from '../helpers/sse.js'
import { SKIP, freshSchema, openTestStore } from '../store/postgres-fixtures.js'

type App = Awaited<ReturnType<typeof buildApp>>

const PATCH = { target: 'default', description: 'all events', operations: [{ op: 'write', path: 'e.txt', contents: 'e\n' }] }
const RESULT = { commit: 'c0ffee', tag: null, files: [], checks: [], durations_ms: {} }

async function enqueue(app: App): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: { ...PATCH, description: `all events ${Math.random()}` } })
  assert.equal(res.statusCode, 202, res.body)
  return res.json().id
}

async function claim(store: Store, id: string) {
  const claimed = await store.claim('test-runner', { targets: null, leaseMs: 30_000 })
  assert.equal(claimed?.record.id, id, 'the patch expected at the head of the lane')
  return claimed
}

async function listening(app: App): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  return `http://127.0.0.1:${port}`
}

const summaries = (messages: SseMessage[]) => messages.filter((m) => m.event === 'patch').map((m) => JSON.parse(m.data) as PatchSummary)
const statusesOf = (messages: SseMessage[], id: string) => summaries(messages).filter((s) => s.id === id).map((s) => s.status)
const reached = (id: string, status: string) => (messages: SseMessage[]) => statusesOf(messages, id).includes(status as PatchSummary['status'])

/**
 * The statuses a patch was shown in are its transitions in order, ending with `last`: changes
 * that come faster than they are read may arrive as one (the later state), never out of order.
 */
function inOrder(shown: string[], transitions: string[], last: string): void {
  assert.equal(shown.at(-1), last, `ends ${last}: ${shown.join(' → ')}`)
  let at = 0
  for (const status of shown) {
    const found = transitions.indexOf(status, at)
    assert.ok(found >= 0, `${shown.join(' → ')} is not in the order ${transitions.join(' → ')}`)
    at = found + 1
  }
}

async function open(url: string, path = '/events'): Promise<SseReader> {
  const res = await fetch(`${url}${path}`, { headers: { ...auth, accept: 'text/event-stream' } })
  if (res.status !== 200) assert.fail(`${path}: ${res.status} ${await res.text()}`)
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
  return new SseReader(res)
}

describe('GET /events', () => {
  it('streams the changes from the moment it opens, each as the list summary after it, in order per patch', async () => {
    const app = await testApp()
    const url = await listening(app)
    const before = await enqueue(app)
    const stream = await open(url)
    // The feed reads its baseline when the first stream opens; what was already there is not news.
    await sleep(300)
    const [one, two] = [await enqueue(app), await enqueue(app)]
    const first = await claim(app.store, before)
    assert.ok(await app.store.complete(before, first.token, RESULT))
    const a = await claim(app.store, one)
    assert.ok(await app.store.complete(one, a.token, RESULT))
    const b = await claim(app.store, two)
    assert.ok(await app.store.fail(two, b.token, 'failed', { code: 'CHECK_FAILED', message: 'check test failed' }, null))

    const messages = await stream.until('the second patch failed', reached(two, 'failed'))
    inOrder(statusesOf(messages, before), ['running', 'applied'], 'applied')
    assert.ok(!statusesOf(messages, before).includes('queued'), 'a patch queued before the stream shows from its next change')
    inOrder(statusesOf(messages, one), ['queued', 'running', 'applied'], 'applied')
    inOrder(statusesOf(messages, two), ['queued', 'running', 'failed'], 'failed')
    const failed = summaries(messages).find((s) => s.id === two && s.status === 'failed')!
    assert.equal(failed.error?.code, 'CHECK_FAILED')
    assert.equal(failed.target, 'default')
    for (const key of ['patch', 'events', 'result']) assert.ok(!(key in failed), `a summary carries no ${key}`)
    await stream.cancel()
  })

  it('follows a runner in another process without the safety rescan: claims, finishes, and a patch claimed and finished between two looks', async () => {
    const config = testConfig()
    const app = await buildApp(config)
    // The safety rescan an hour away: only the store's change notifications can deliver in time.
    await app.register(allEventRoutes, { prefix: '/slow', pollMs: 3_600_000 })
    const other = await openStore(config)
    try {
      const url = await listening(app)
      const stream = await open(url, '/slow/events')
      await sleep(300)
      const one = await enqueue(app)
      await stream.until('the first patch queued', reached(one, 'queued'))
      const a = await claim(other, one)
      await stream.until('the other process claiming it', reached(one, 'running'))
      assert.ok(await other.complete(one, a.token, RESULT))
      await stream.until('the other process finishing it', reached(one, 'applied'))

      const two = await enqueue(app)
      const b = await claim(other, two)
      assert.ok(await other.fail(two, b.token, 'rejected', { code: 'CONTEXT_NOT_FOUND', message: 'no such text' }, null))
      const messages = await stream.until('the second patch rejected', reached(two, 'rejected'))
      assert.deepEqual(statusesOf(messages, one), ['queued', 'running', 'applied'], 'each change was awaited before the next: none is missed')
      inOrder(statusesOf(messages, two), ['queued', 'running', 'rejected'], 'rejected')
      await stream.cancel()
    } finally {
      await app.close()
      await other.close()
    }
  })

  it('counts in the same per-credential cap as the per-patch streams, and frees its slot when closed', async () => {
    const config = testConfig()
    config.limits.streamsPerPrincipal = 2
    const app = await testApp(config)
    const url = await listening(app)
    const id = await enqueue(app)
    const all = await open(url)
    const one = await open(url, `/patches/${id}/events`)
    for (const path of ['/events', `/patches/${id}/events`]) {
      const res = await fetch(`${url}${path}`, { headers: auth })
      assert.equal(res.status, 429, path)
      assert.equal(((await res.json()) as { code: string }).code, 'TOO_MANY_STREAMS')
      assert.equal(res.headers.get('retry-after'), '5')
    }
    await all.cancel()
    let again: Response | undefined
    for (let i = 0; i < 40 && again?.status !== 200; i++) {
      await again?.body?.cancel()
      await sleep(50)
      again = await fetch(`${url}/events`, { headers: auth })
    }
    assert.equal(again?.status, 200, 'a slot freed by the closed stream')
    await again?.body?.cancel()
    await one.cancel()
  })

  it('reads the store once per change however many streams listen, and not at all once they have gone', async () => {
    const config = testConfig()
    const store = await openStore(config)
    let reads = 0
    const counting: Store = Object.assign(Object.create(store) as Store, {
      get: (id: string) => {
        reads++
        return store.get(id)
      },
      list: (query: Parameters<Store['list']>[0]) => {
        reads++
        return store.list(query)
      },
    })
    const app = await buildApp(config, { store: counting })
    try {
      const url = await listening(app)
      await enqueue(app)
      assert.equal(reads, 0, 'nothing read while nobody listens')
      const streams = await Promise.all([1, 2, 3].map(() => open(url)))
      await sleep(300)
      const baseline = reads
      assert.ok(baseline >= 2 && baseline <= 6, `the baseline read once, not per stream (${baseline} reads)`)
      const id = await enqueue(app)
      await Promise.all(streams.map((s) => s.until('the new patch', reached(id, 'queued'))))
      assert.equal(reads, baseline + 1, 'one read for the change, shared by the three streams')

      for (const s of streams) await s.cancel()
      await sleep(300)
      const after = reads
      await enqueue(app)
      await sleep(400)
      assert.equal(reads, after, 'no store reads after the clients closed their streams')
    } finally {
      await app.close()
      await store.close()
    }
  })

  it('lets the app close while streams are open, ending them', async () => {
    const app = await buildApp(testConfig())
    const url = await listening(app)
    const streams = await Promise.all([1, 2].map(() => open(url)))
    const started = Date.now()
    await app.close()
    assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms`)
    for (const s of streams) await s.until('the end', () => false).catch(() => {})
    for (const s of streams) assert.ok(s.ended, 'the stream ended')
  })
})

describe('GET /events on PostgreSQL', { skip: SKIP }, () => {
  it('a stream on one gateway hears every change another instance makes, through LISTEN, not the safety rescan', async () => {
    const schema = freshSchema()
    const [gatewayStore, runnerStore] = [await openTestStore(schema), await openTestStore(schema)]
    const app = await buildApp(testConfig(), { store: gatewayStore })
    await app.register(allEventRoutes, { prefix: '/slow', pollMs: 3_600_000 })
    try {
      const url = await listening(app)
      const stream = await open(url, '/slow/events')
      await sleep(300)
      const id = await enqueue(app)
      const { token } = await claim(runnerStore, id)
      assert.ok(await runnerStore.fail(id, token, 'rejected', { code: 'CONTEXT_NOT_FOUND', message: 'no such text' }, null))
      const messages = await stream.until('the rejection', reached(id, 'rejected'), 10_000)
      inOrder(statusesOf(messages, id), ['queued', 'running', 'rejected'], 'rejected')
      await stream.cancel()
    } finally {
      await app.close()
      await Promise.all([gatewayStore.close(), runnerStore.close()])
    }
  })
})
