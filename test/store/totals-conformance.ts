// Per-status totals, list filters over a list of targets, and retention: the parts of the store
// contract that keep costs flat as history grows, run by storeConformance against every adapter.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { PatchResult } from '../../src/schemas/record.js'
import type { Store } from '../../src/store/port.js'
import type { StatusTotal } from '../../src/store/port/totals.js'
import { input, plainPatch } from './inputs.js'

const RESULT: PatchResult = { commit: 'c0ffee', tag: null, files: [], checks: [], durations_ms: {} }
const FAILED = { code: 'CHECK_FAILED', message: 'exit 1' }

const pick = (totals: StatusTotal[]) => totals.filter((t) => t.current !== 0 || t.reached !== 0).map((t) => `${t.target}/${t.status} ${t.current}/${t.reached}`)

export function totalsConformance(fresh: () => Promise<Store>): void {
  describe('totals and retention', () => {
    const enqueue = async (store: Store, target: string) => (await store.enqueue(input(target, { patch: plainPatch(target) }))).record.id

    it('keeps per-status totals through every transition; the queue cap and counts read them', async () => {
      const store = await fresh()
      const a = [await enqueue(store, 'a'), await enqueue(store, 'a'), await enqueue(store, 'a'), await enqueue(store, 'a')]
      await enqueue(store, 'b')
      const c1 = await store.claim('r', { targets: ['a'], leaseMs: 60_000 })
      assert.equal(c1?.record.id, a[0])
      assert.equal(await store.complete(c1!.record.id, c1!.token, RESULT), true)
      const c2 = await store.claim('r', { targets: ['a'], leaseMs: 60_000 })
      assert.equal(await store.release(c2!.record.id, c2!.token, 'workspace_busy', undefined, { attempted: false }), true)
      const c3 = await store.claim('r', { targets: ['a'], leaseMs: 60_000 })
      assert.equal(await store.fail(c3!.record.id, c3!.token, 'failed', FAILED, null), true)
      assert.equal((await store.cancel(a[3]!)).outcome, 'cancelled')
      const c4 = await store.claim('r', { targets: ['a'], leaseMs: 1 })
      assert.equal(c4?.record.id, a[2])
      assert.equal(await store.reapExpired({ now: Date.now() + 10_000, maxAttempts: 3 }), 1)
      const c5 = await store.claim('r', { targets: ['a'], leaseMs: 60_000 })
      assert.equal(c5?.record.id, a[2])

      assert.deepEqual(pick(await store.totals()), [
        'a/applied 1/1',
        'a/cancelled 1/1',
        'a/failed 1/1',
        'a/queued 0/4',
        'a/running 1/5',
        'b/queued 1/1',
      ])
      assert.equal(await store.queuedTotal(), 1)
      const counts = await store.counts()
      assert.deepEqual(counts.map((c) => [c.target, c.queued, c.running]), [['a', 0, 1], ['b', 1, 0]])
      const b = counts[1]!
      assert.equal(b.oldest_queued_at, Date.parse((await store.list({ target: 'b', limit: 1 })).items[0]!.created_at))
    })

    it('lists over a list of targets newest first, page by page, each filter combined', async () => {
      const store = await fresh()
      const ids: Record<string, string[]> = { a: [], b: [], c: [] }
      for (let i = 0; i < 9; i++) {
        const target = ['a', 'b', 'c'][i % 3]!
        ids[target]!.push((await store.enqueue(input(target, { patch: plainPatch(target), submittedBy: i % 2 ? 'odd' : 'even' }))).record.id)
      }
      const c = await store.claim('r', { targets: ['b'], leaseMs: 60_000 })
      assert.ok(c)
      const all = async (query: Parameters<Store['list']>[0]) => {
        const out: string[] = []
        let cursor: string | undefined
        do {
          const page = await store.list({ ...query, cursor })
          out.push(...page.items.map((p) => p.id))
          cursor = page.next_cursor ?? undefined
        } while (cursor)
        return out
      }
      const listed = await all({ targets: ['c', 'a', 'a'], limit: 2 })
      assert.deepEqual(new Set(listed), new Set([...ids.a!, ...ids.c!]))
      assert.equal(listed.length, 6)
      const seqOf = async (id: string) => (await store.list({ limit: 100 })).items.findIndex((p) => p.id === id)
      const positions = await Promise.all(listed.map(seqOf))
      assert.deepEqual(positions, [...positions].sort((x, y) => x - y), 'newest first across targets')
      assert.deepEqual(await all({ targets: ['a', 'b'], status: 'running', limit: 1 }), [c.record.id])
      assert.deepEqual(await all({ targets: ['a', 'b'], target: 'b', status: 'running', limit: 1 }), [c.record.id])
      assert.deepEqual(await all({ targets: ['a'], target: 'b', limit: 5 }), [])
      assert.deepEqual(await all({ targets: [], limit: 5 }), [])
      const oddInAC = await all({ targets: ['a', 'c'], submittedBy: 'odd', status: 'queued', limit: 1 })
      assert.equal(oddInAC.length, 2)
      for (const id of oddInAC) assert.equal((await store.get(id))?.submitted_by, 'odd')
      // b holds patches 1 (odd, claimed), 4 (even) and 7 (odd).
      assert.deepEqual(await all({ target: 'b', status: 'queued', submittedBy: 'even', limit: 1 }), [ids.b![1]])
    })

    it('prunes finished patches older than the cutoff in batches, with their events and deliveries; queued and running never', async () => {
      const store = await fresh()
      store.setSubscriptions([{ url: 'http://hook.example/', events: null }])
      const ids = [await enqueue(store, 'a'), await enqueue(store, 'a'), await enqueue(store, 'b'), await enqueue(store, 'b')]
      const done = await store.claim('r', { targets: ['a'], leaseMs: 60_000 })
      assert.equal(await store.complete(done!.record.id, done!.token, RESULT), true)
      assert.equal((await store.cancel(ids[2]!)).outcome, 'cancelled')
      const running = await store.claim('r', { targets: ['a'], leaseMs: 60_000 })
      assert.equal(running?.record.id, ids[1])
      const key = input('b', { idempotencyKey: 'kept-until-pruned', patch: plainPatch('b') })
      const keyed = (await store.enqueue(key)).record
      const k = await store.claim('r', { targets: ['b'], leaseMs: 60_000 })
      assert.equal(k?.record.id, ids[3])
      assert.equal(await store.fail(k!.record.id, k!.token, 'rejected', FAILED, null), true)
      assert.equal((await store.cancel(keyed.id)).outcome, 'cancelled')

      assert.equal(await store.prune({ finishedBefore: Date.now() - 60_000, limit: 10 }), 0, 'nothing finished before the cutoff')
      assert.equal(await store.prune({ finishedBefore: Date.now() + 1000, limit: 2 }), 2)
      assert.equal(await store.prune({ finishedBefore: Date.now() + 1000, limit: 2 }), 2)
      assert.equal(await store.prune({ finishedBefore: Date.now() + 1000, limit: 2 }), 0)
      for (const id of [ids[0]!, ids[2]!, ids[3]!, keyed.id]) {
        assert.equal(await store.get(id), null, `${id} pruned`)
        assert.deepEqual(await store.deliveries(id), [])
      }
      assert.equal((await store.get(ids[1]!))?.status, 'running', 'a running patch is never pruned')
      assert.ok((await store.deliveries(ids[1]!)).length > 0)
      // The key went with its patch: a repeat is a new patch.
      const again = await store.enqueue({ ...key, id: `${key.id}-again` })
      assert.equal(again.outcome, 'created')
      assert.deepEqual(pick(await store.totals()), [
        'a/applied 0/1',
        'a/queued 0/2',
        'a/running 1/2',
        'b/cancelled 0/2',
        'b/queued 1/4',
        'b/rejected 0/1',
        'b/running 0/1',
      ])
      assert.equal((await store.list({ limit: 10 })).items.length, 2)
    })
  })
}
