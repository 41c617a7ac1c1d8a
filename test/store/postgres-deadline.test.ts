import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { input } from './inputs.js'
import { DATABASE_URL, SKIP, admin, freshSchema, openTestStore } from './postgres-fixtures.js'
import { TcpProxy } from './tcp-proxy.js'

const DEADLINE_MS = 1000
// Timers fire late on a loaded machine; the bound is the deadline, this only absorbs that.
const SLACK_MS = 1500

/** How `work` ended, and when: it must settle within `withinMs`, or the test says it hung. */
async function settle<T>(work: Promise<T>, withinMs: number): Promise<{ ms: number; value?: T; error?: Error & { patchId?: string } }> {
  const started = Date.now()
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), withinMs)))
  try {
    const value = await Promise.race([work, hung])
    assert.notEqual(value, 'hung', `still pending after ${withinMs} ms: no deadline`)
    return { ms: Date.now() - started, value: value as T }
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error
    return { ms: Date.now() - started, error: error as Error }
  } finally {
    clearTimeout(timer)
  }
}

const keyed = (key: string) => ({ ...input('web'), idempotencyKey: key })

describe('postgres store deadline', { skip: SKIP }, () => {
  let proxy: TcpProxy
  before(async () => {
    const { hostname, port } = new URL(DATABASE_URL!)
    proxy = await TcpProxy.start(hostname, Number(port || 5432))
  })
  after(() => proxy?.close())

  it('with the link frozen every operation fails within its deadline; an enqueue already sent is named uncertain, and none refused outright is stored once the link thaws', async () => {
    const schema = freshSchema()
    const store = await openTestStore(schema, { connectionString: proxy.url(DATABASE_URL!), poolSize: 3, deadlineMs: DEADLINE_MS })
    const db = await admin()
    try {
      // Every pooled connection open and idle, so the frozen statements are sent, not stuck connecting.
      for (const r of await Promise.all([0, 1, 2].map((i) => store.enqueue(keyed(`warm-${i}`))))) assert.equal(r.outcome, 'created')
      await Promise.all([0, 1, 2].map(() => store.list({ limit: 1 })))
      await new Promise((r) => setTimeout(r, 300))
      proxy.freeze()
      // The first three leave in one batch, whose statement goes into the frozen link; the rest
      // wait for it to end, then for a new connection through the frozen link.
      const sent = Array.from({ length: 3 }, (_, i) => keyed(`sent-${i}`))
      const waiting = Array.from({ length: 3 }, (_, i) => keyed(`frozen-${i}`))
      const pending = sent.map((i) => settle(store.enqueue(i), DEADLINE_MS + SLACK_MS))
      await new Promise((r) => setTimeout(r, 50))
      const results = await Promise.all([
        ...pending,
        ...waiting.map((i) => settle(store.enqueue(i), DEADLINE_MS + SLACK_MS)),
        settle(store.get('pt_nope'), DEADLINE_MS + SLACK_MS),
        settle(store.list({ limit: 5 }), DEADLINE_MS + SLACK_MS),
      ])
      for (const r of results) {
        assert.ok(r.error, `answered ${JSON.stringify(r.value)} through a frozen link`)
        assert.ok(r.ms >= DEADLINE_MS - 50, `failed after ${r.ms} ms, before the deadline`)
      }
      for (const [i, r] of results.slice(0, 3).entries()) {
        assert.equal(r.error!.name, 'EnqueueUncertainError', String(r.error))
        assert.equal(r.error!.patchId, sent[i]!.id)
      }
      for (const r of results.slice(3)) assert.equal(r.error!.name, 'StoreDeadlineError', String(r.error))

      proxy.thaw()
      // Whatever the frozen link held reaches the server now; give it time to act on it.
      for (let i = 0; ; i++) {
        const r = await settle(store.enqueue(keyed(`after-${i}`)), DEADLINE_MS + SLACK_MS)
        if (r.value?.outcome === 'created') break
        assert.ok(i < 20, `no recovery: ${r.error}`)
      }
      await new Promise((r) => setTimeout(r, 1000))
      const stored = await db.query(`SELECT id FROM ${pg.escapeIdentifier(schema)}.patches WHERE id = ANY($1)`, [waiting.map((i) => i.id)])
      assert.deepEqual(stored.rows, [], 'a patch the caller was told failed was stored later')
      // An uncertain one is what the retry it was told to make finds: stored under its id, or not at all.
      for (const i of sent) {
        const again = await store.enqueue({ ...i, id: `${i.id}_again` })
        const there = (await db.query(`SELECT id FROM ${pg.escapeIdentifier(schema)}.patches WHERE id = $1`, [i.id])).rows.length === 1
        assert.equal(again.outcome, there ? 'duplicate' : 'created')
        if (there) assert.equal(again.record.id, i.id)
      }
    } finally {
      proxy.thaw()
      await store.close()
    }
  })

  it('a gateway whose link stalls after sending a batch holds no lane lock: another enqueues to the same lane at once', async () => {
    const schema = freshSchema()
    const stalled = await openTestStore(schema, { connectionString: proxy.url(DATABASE_URL!), deadlineMs: DEADLINE_MS })
    const other = await openTestStore(schema, { deadlineMs: 60_000 })
    try {
      assert.equal((await stalled.enqueue(input('web'))).outcome, 'created')
      const held = input('web')
      proxy.holdRepliesAfter(held.id)
      const answer = settle(stalled.enqueue(held), DEADLINE_MS + SLACK_MS)
      for (let i = 0; !proxy.holding; i++) {
        assert.ok(i < 100, 'the batch never went through the proxy')
        await new Promise((r) => setTimeout(r, 10))
      }
      // Well within the stalled gateway's deadline: the lane's lock went with its commit.
      const started = Date.now()
      const next = await settle(other.enqueue(input('web')), DEADLINE_MS / 2)
      assert.equal(next.value?.outcome, 'created', String(next.error))
      assert.ok(Date.now() - started < DEADLINE_MS / 2)
      assert.equal((await answer).error?.name, 'EnqueueUncertainError')
      const lane = await other.list({ target: 'web', limit: 10 })
      assert.equal(lane.items.length, 3, 'the stalled batch committed: its caller was told it may be stored')
    } finally {
      proxy.thaw()
      await Promise.all([stalled.close(), other.close()])
    }
  })

  it('an enqueue whose statement was sent but never answered fails naming the patch, and a retry with the same key returns it', async () => {
    const schema = freshSchema()
    const store = await openTestStore(schema, { connectionString: proxy.url(DATABASE_URL!), poolSize: 3, deadlineMs: DEADLINE_MS })
    try {
      assert.equal((await store.enqueue(keyed('warm'))).outcome, 'created')
      const sent = keyed('uncertain')
      proxy.holdRepliesAfter(sent.id)
      const r = await settle(store.enqueue(sent), DEADLINE_MS + SLACK_MS)
      assert.ok(proxy.holding, 'the statement went through the proxy')
      assert.ok(r.error, `answered ${JSON.stringify(r.value)}`)
      assert.equal(r.error.name, 'EnqueueUncertainError', String(r.error))
      assert.equal(r.error.patchId, sent.id)
      proxy.thaw()

      // The statement had reached the server and committed: the retry the caller is told to make finds the patch.
      const again = await store.enqueue({ ...keyed('uncertain'), id: 'pt_retry' })
      assert.equal(again.outcome, 'duplicate')
      assert.equal(again.record.id, sent.id)
    } finally {
      proxy.thaw()
      await store.close()
    }
  })
})
