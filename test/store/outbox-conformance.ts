// The notification outbox part of the store contract, run by storeConformance against every adapter.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { NotificationDelivery } from '../../src/schemas/notification.js'
import type { PatchResult } from '../../src/schemas/record.js'
import type { ClaimedPatch, DeliveryJob, Store } from '../../src/store/port.js'
import { input, plainPatch } from './inputs.js'

const A = 'http://a.example/hook'
const B = 'https://b.example/hooks?key=1'
const RESULT: PatchResult = { commit: 'c0ffee', tag: 'ghost/x', files: [], checks: [], durations_ms: {} }
const CHECK_FAILED = { code: 'CHECK_FAILED', message: 'npm test exited 1' }

const eventsTo = (ds: NotificationDelivery[], url: string) => ds.filter((d) => d.url === url).map((d) => d.event)
const iso = (ms: number) => new Date(ms).toISOString()

export function outboxConformance(fresh: () => Promise<Store>): void {
  describe('notification outbox', () => {
    async function enqueued(store: Store, target = 'web'): Promise<string> {
      return (await store.enqueue(input(target, { patch: plainPatch(target) }))).record.id
    }
    async function claimed(store: Store, now?: number, leaseMs = 60_000): Promise<ClaimedPatch> {
      const c = await store.claim('runner-1', { targets: null, leaseMs, now })
      assert.ok(c, 'expected a claim')
      return c
    }
    const claim = (store: Store, owner: string, urls: string[], now: number, limit = 10, leaseMs = 1000) =>
      store.claimDeliveries({ owner, urls, limit, leaseMs, now })
    const one = (jobs: DeliveryJob[]): DeliveryJob => {
      assert.equal(jobs.length, 1, `expected one job, got ${jobs.length}`)
      return jobs[0] as DeliveryJob
    }

    it('records nothing without subscriptions', async () => {
      const store = await fresh()
      const id = await enqueued(store)
      const c = await claimed(store)
      await store.complete(c.record.id, c.token, RESULT)
      assert.deepEqual(await store.deliveries(id), [])
      assert.deepEqual(await claim(store, 'd', [A], Date.now() + 60_000), [])
      assert.deepEqual(await store.deliveries('p_unknown'), [])
    })

    it('records a pending delivery per subscribed status, in the transition itself', async () => {
      const store = await fresh()
      store.setSubscriptions([
        { url: A, events: null },
        { url: B, events: ['applied', 'failed'] },
      ])
      const before = Date.now()
      const id = await enqueued(store)
      const c = await claimed(store)
      assert.equal(await store.complete(c.record.id, c.token, RESULT), true)
      const ds = await store.deliveries(id)
      assert.deepEqual(eventsTo(ds, A), ['queued', 'running', 'applied'])
      assert.deepEqual(eventsTo(ds, B), ['applied'])
      assert.equal(ds.length, 4)
      assert.equal(new Set(ds.map((d) => d.id)).size, 4)
      for (const d of ds) {
        assert.match(d.id, /^msg_[0-9a-f]{32}$/)
        assert.deepEqual(
          { state: d.state, attempts: d.attempts, last_status: d.last_status, last_error: d.last_error },
          { state: 'pending', attempts: 0, last_status: null, last_error: null },
        )
        assert.ok(d.next_attempt_at !== null && Date.parse(d.next_attempt_at) >= before - 1000, 'due at once')
        assert.ok(Date.parse(d.created_at) >= before - 1000)
      }
      // Replacing the subscriptions changes later transitions only.
      store.setSubscriptions([])
      const other = await enqueued(store, 'api')
      assert.deepEqual(await store.deliveries(other), [])
      assert.equal((await store.deliveries(id)).length, 4)
    })

    it('covers every transition: cancel, release, fail, reject and lost leases', async () => {
      const store = await fresh()
      store.setSubscriptions([{ url: A, events: null }])
      const events = async (id: string) => (await store.deliveries(id)).map((d) => d.event)

      const cancelled = await enqueued(store, 'c')
      await store.cancel(cancelled)
      assert.deepEqual(await events(cancelled), ['queued', 'cancelled'])

      const failed = await enqueued(store, 'f')
      const c1 = await claimed(store)
      await store.release(c1.record.id, c1.token, 'push_race')
      const c2 = await claimed(store)
      await store.fail(c2.record.id, c2.token, 'failed', CHECK_FAILED, null)
      assert.deepEqual(await events(failed), ['queued', 'running', 'queued', 'running', 'failed'])

      const rejected = await enqueued(store, 'r')
      const c3 = await claimed(store)
      await store.fail(c3.record.id, c3.token, 'rejected', { code: 'UNKNOWN_TARGET', message: 'no' }, null)
      assert.deepEqual(await events(rejected), ['queued', 'running', 'rejected'])

      const t = Date.now()
      const lost = await enqueued(store, 'l')
      await claimed(store, t, 10)
      assert.equal(await store.reapExpired({ now: t + 20, maxAttempts: 2 }), 1)
      await claimed(store, t + 30, 10)
      assert.equal(await store.reapExpired({ now: t + 50, maxAttempts: 2 }), 1)
      const ds = await store.deliveries(lost)
      // The last lost lease is requeued for a verification-only claim, not failed.
      assert.deepEqual(ds.map((d) => d.event), ['queued', 'running', 'queued', 'running', 'queued'])
      // Each is due from the moment of its transition.
      assert.deepEqual(ds.slice(1).map((d) => d.next_attempt_at), [iso(t), iso(t + 20), iso(t + 30), iso(t + 50)])
    })

    it('hands a due delivery to one claimer, for the URLs it asks for, until its lease ends', async () => {
      const store = await fresh()
      store.setSubscriptions([
        { url: A, events: ['queued'] },
        { url: B, events: ['queued'] },
      ])
      const id = await enqueued(store)
      const t = Date.now() + 1000

      const first = one(await claim(store, 'd1', [A], t))
      assert.deepEqual(
        { url: first.url, attempt: first.attempt, patch_id: first.patch_id, status: first.status, reason: first.reason, detail: first.detail, target: first.target, client_id: first.client_id },
        { url: A, attempt: 1, patch_id: id, status: 'queued', reason: 'enqueued', detail: null, target: 'web', client_id: null },
      )
      assert.equal(first.result, null)
      assert.equal(first.error, null)
      assert.ok(Math.abs(Date.parse(first.at) - Date.now()) < 60_000)
      const second = one(await claim(store, 'd2', [A, B], t))
      assert.equal(second.url, B, 'the leased delivery is not handed out again')
      assert.deepEqual(await claim(store, 'd2', [A, B], t + 999), [])
      const viewed = (await store.deliveries(id)).find((d) => d.url === A)
      assert.equal(viewed?.attempts, 1)
      assert.equal(viewed?.next_attempt_at, iso(t + 1000), 'a claimed delivery is due again when its lease ends')

      const again = one(await claim(store, 'd3', [A], t + 1000))
      assert.equal(again.id, first.id, 'the id is stable across attempts')
      assert.equal(again.attempt, 2)
      assert.equal(await store.settleDelivery(first.id, 'd1', 1, { state: 'delivered', status: 200 }), false, 'a lost lease cannot settle')
      assert.equal(await store.settleDelivery(first.id, 'd3', 1, { state: 'delivered', status: 200 }), false, 'nor an older attempt')
      assert.equal(await store.settleDelivery(first.id, 'd3', 2, { state: 'delivered', status: 204 }, t + 1001), true)
      assert.equal(await store.settleDelivery(first.id, 'd3', 2, { state: 'failed', status: null, error: 'x' }), false, 'settled once')
      const delivered = (await store.deliveries(id)).find((d) => d.url === A)
      assert.deepEqual(
        { state: delivered?.state, attempts: delivered?.attempts, last_status: delivered?.last_status, last_error: delivered?.last_error, next: delivered?.next_attempt_at, updated_at: delivered?.updated_at },
        { state: 'delivered', attempts: 2, last_status: 204, last_error: null, next: null, updated_at: iso(t + 1001) },
      )
      assert.deepEqual((await claim(store, 'd4', [A, B], t + 1_000_000)).map((j) => j.url), [B], 'a delivered one is never claimed again')
    })

    it('keeps a failed attempt pending until its next attempt, then ends failed', async () => {
      const store = await fresh()
      store.setSubscriptions([{ url: A, events: ['queued'] }])
      const id = await enqueued(store)
      const t = Date.now() + 1000
      const job = one(await claim(store, 'd', [A], t))
      const retry = { state: 'pending' as const, status: 500, error: 'HTTP 500', retryInMs: 4990 }
      assert.equal(await store.settleDelivery(job.id, 'd', 1, retry, t + 10), true)
      const [pending] = await store.deliveries(id)
      assert.deepEqual(
        { state: pending?.state, attempts: pending?.attempts, last_status: pending?.last_status, last_error: pending?.last_error, next: pending?.next_attempt_at },
        { state: 'pending', attempts: 1, last_status: 500, last_error: 'HTTP 500', next: iso(t + 5000) },
      )
      assert.deepEqual(await claim(store, 'd', [A], t + 4999), [])
      const second = one(await claim(store, 'd', [A], t + 5000))
      assert.equal(second.attempt, 2)
      assert.equal(await store.settleDelivery(job.id, 'd', 2, { state: 'failed', status: null, error: 'connect ECONNREFUSED' }), true)
      const [failed] = await store.deliveries(id)
      assert.deepEqual(
        { state: failed?.state, attempts: failed?.attempts, last_status: failed?.last_status, last_error: failed?.last_error, next: failed?.next_attempt_at },
        { state: 'failed', attempts: 2, last_status: null, last_error: 'connect ECONNREFUSED', next: null },
      )
      assert.deepEqual(await claim(store, 'd', [A], t + 1_000_000), [])
    })

    it('does not count an attempt its dispatcher gave up (shutdown)', async () => {
      const store = await fresh()
      store.setSubscriptions([{ url: A, events: ['queued'] }])
      const id = await enqueued(store)
      const t = Date.now() + 1000
      const job = one(await claim(store, 'd', [A], t))
      const interrupted = { state: 'pending' as const, status: null, error: 'interrupted by shutdown', retryInMs: 0, interrupted: true }
      assert.equal(await store.settleDelivery(job.id, 'd', 1, interrupted, t + 5), true)
      const [n] = await store.deliveries(id)
      assert.deepEqual([n?.state, n?.attempts, n?.last_error, n?.next_attempt_at], ['pending', 0, 'interrupted by shutdown', iso(t + 5)])
      assert.equal(one(await claim(store, 'd2', [A], t + 5)).attempt, 1)
      assert.equal(await store.settleDelivery(job.id, 'd', 1, interrupted), false, 'the old claim stays fenced off')
    })

    it("sends one patch's deliveries to one URL in order, other patches unhindered", async () => {
      const store = await fresh()
      store.setSubscriptions([{ url: A, events: null }])
      const id = await enqueued(store, 'a')
      const c = await claimed(store)
      await store.complete(c.record.id, c.token, RESULT)
      const t = Date.now() + 1000
      const queued = one(await claim(store, 'd', [A], t))
      assert.equal(queued.status, 'queued')
      const otherId = await enqueued(store, 'b')
      const other = one(await claim(store, 'd', [A], t))
      assert.equal(other.patch_id, otherId, 'only the head of each (patch, url) is due')
      await store.settleDelivery(queued.id, 'd', 1, { state: 'pending', status: 503, error: 'HTTP 503', retryInMs: 100 }, t)
      assert.deepEqual(await claim(store, 'd', [A], t + 50), [], 'the running and applied deliveries wait behind the queued one')
      assert.equal(one(await claim(store, 'd', [A], t + 100)).id, queued.id)
      await store.settleDelivery(queued.id, 'd', 2, { state: 'failed', status: 503, error: 'HTTP 503' })
      const running = one(await claim(store, 'd', [A], t + 100))
      assert.equal(running.status, 'running')
      await store.settleDelivery(running.id, 'd', 1, { state: 'delivered', status: 200 })
      const applied = one(await claim(store, 'd', [A], t + 100))
      assert.deepEqual([applied.status, applied.patch_id, applied.result?.commit, applied.error], ['applied', id, 'c0ffee', null])
    })

    it('carries the error of a failed patch', async () => {
      const store = await fresh()
      store.setSubscriptions([{ url: A, events: ['failed'] }])
      await enqueued(store)
      const c = await claimed(store)
      await store.fail(c.record.id, c.token, 'failed', CHECK_FAILED, null)
      const job = one(await claim(store, 'd', [A], Date.now() + 1000))
      assert.deepEqual([job.status, job.reason, job.detail, job.error], ['failed', 'CHECK_FAILED', 'npm test exited 1', CHECK_FAILED])
    })

    it('concurrent claimers never get one delivery twice', async () => {
      const store = await fresh()
      store.setSubscriptions([{ url: A, events: ['queued'] }])
      await Promise.all(Array.from({ length: 24 }, (_, i) => enqueued(store, `t${i % 6}`)))
      const t = Date.now() + 1000
      const got = await Promise.all(Array.from({ length: 8 }, (_, i) => claim(store, `d${i}`, [A], t, 5, 60_000)))
      const ids = got.flat().map((j) => j.id)
      assert.equal(ids.length, 24, 'every due delivery claimed once')
      assert.equal(new Set(ids).size, 24)
    })
  })
}
