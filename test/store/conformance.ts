import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import type { NormalizedPatch } from '../../src/schemas/patch.js'
import type { PatchError, PatchEvent, PatchRecord, PatchResult } from '../../src/schemas/record.js'
import { VERIFY_ONLY_REASON, verifyOnly, type ClaimedPatch, type EnqueueInput, type ListQuery, type Store } from '../../src/store/port.js'
import { input, newId, plainPatch } from './inputs.js'
import { outboxConformance } from './outbox-conformance.js'
import { totalsConformance } from './totals-conformance.js'

export interface ConformanceOptions {
  /** Concurrent enqueues in the burst case (default 200). */
  burst?: number
  /**
   * The adapter commits concurrent enqueues from one process in call order (SQLite's group
   * commit does; a pool of connections need not). Without it the burst case only checks that
   * claim order is the creation order the adapter reports through list().
   */
  enqueueKeepsCallOrder?: boolean
}

/** A patch that exercises every operation kind and every optional field. */
export function richPatch(target: string): NormalizedPatch {
  return {
    target,
    client_id: 'client-42',
    format: 'native',
    description: 'Rename the helper, fix the greeting — ünïcödé ✓',
    operations: [
      { op: 'write', path: 'src/new.ts', contents: 'export const x = 1\n' },
      { op: 'replace', path: 'src/a.ts', find: 'hel+o', replace: 'hi', regex: true, count: 2 },
      { op: 'insert', path: 'src/b.ts', contents: '// added\n', after: 'import x\n' },
      { op: 'insert', path: 'src/c.ts', contents: 'top\n', before: 'body' },
      { op: 'delete', path: 'old.txt' },
      { op: 'rename', from: 'docs/a.md', to: 'docs/b.md' },
      { op: 'diff', diff: '--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n' },
      { op: 'apply_patch', patch: '*** Begin Patch\n*** Delete File: z\n*** End Patch' },
    ],
    checks: ['test', 'lint'],
    commit: { message: 'feat: rename helper', tag: 'v1.2.3' },
    metadata: { source: 'gpt-action', attempt: 3, nested: { ok: true, list: [1, 'two', null] }, none: null },
  }
}

const RESULT: PatchResult = {
  commit: '0123456789abcdef0123456789abcdef01234567',
  tag: 'ghost/p1',
  files: [
    { path: 'src/a.ts', change: 'modified', added: 3, removed: 1 },
    { path: 'docs/b.md', change: 'renamed', from: 'docs/a.md', added: 0, removed: 0 },
  ],
  checks: [{ name: 'test', argv: ['npm', 'test'], exit_code: 0, signal: null, timed_out: false, duration_ms: 1234.5, output_tail: 'ok 12\n' }],
  durations_ms: { apply: 12, checks: 1234.5, commit: 40 },
}

const CHECK_FAILED: PatchError = { code: 'CHECK_FAILED', message: 'npm test exited 1', detail: 'not ok 3 - greets' }

const SUMMARY_KEYS = [
  'attempts',
  'cancelled_by',
  'client_id',
  'created_at',
  'description',
  'error',
  'finished_at',
  'format',
  'id',
  'started_at',
  'status',
  'submitted_by',
  'target',
  'updated_at',
]

const ev = (e: PatchEvent) => [e.status, e.reason, e.detail] as const
const isIso = (s: string | null) => s !== null && new Date(Date.parse(s)).toISOString() === s

/**
 * Registers the store contract as node:test cases. `make` must return a fresh, empty,
 * migrated store each time; the suite closes every store it made.
 */
export function storeConformance(name: string, make: () => Promise<Store>, opts: ConformanceOptions = {}): void {
  const burst = opts.burst ?? 200

  describe(`store conformance: ${name}`, () => {
    const opened: Store[] = []
    const fresh = async () => {
      const store = await make()
      opened.push(store)
      return store
    }
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close()
    })

    async function created(store: Store, inp: EnqueueInput): Promise<PatchRecord> {
      const res = await store.enqueue(inp)
      assert.equal(res.outcome, 'created')
      return res.record
    }
    const lane = (store: Store, target: string, n: number) =>
      Array.from({ length: n }, (_, i) => i).reduce<Promise<PatchRecord[]>>(
        async (acc, i) => [...(await acc), await created(store, input(target, { patch: plainPatch(target, `${target}${i + 1}`) }))],
        Promise.resolve([]),
      )
    async function claimed(store: Store, targets: string[] | null = null, leaseMs = 60_000, now?: number): Promise<ClaimedPatch> {
      const c = await store.claim('runner-1', { targets, leaseMs, now })
      assert.ok(c, 'expected a claim')
      return c
    }

    describe('enqueue and get', () => {
      it('returns the created record, queued with one event', async () => {
        const store = await fresh()
        const before = Date.now()
        const inp = input('web', { idempotencyKey: 'key-1', bodyHash: 'h1', patch: richPatch('web') })
        const res = await store.enqueue(inp)
        const after = Date.now()
        assert.equal(res.outcome, 'created')
        const r = res.record
        assert.equal(r.id, inp.id)
        assert.equal(r.status, 'queued')
        assert.equal(r.target, 'web')
        assert.equal(r.client_id, 'client-42')
        assert.equal(r.format, 'native')
        assert.equal(r.description, inp.patch.description)
        assert.equal(r.attempts, 0)
        assert.equal(r.started_at, null)
        assert.equal(r.finished_at, null)
        assert.equal(r.result, null)
        assert.equal(r.error, null)
        assert.ok(isIso(r.created_at) && isIso(r.updated_at))
        assert.ok(Date.parse(r.created_at) >= before && Date.parse(r.created_at) <= after, 'created_at is the enqueue time')
        assert.equal(r.updated_at, r.created_at)
        assert.deepEqual(r.events, [{ at: r.created_at, status: 'queued', reason: 'enqueued', detail: null }])
        assert.deepEqual(r.patch, inp.patch)
      })

      it('get round-trips every field of the normalised patch', async () => {
        const store = await fresh()
        const rich = await created(store, input('web', { patch: richPatch('web') }))
        const plain = await created(store, input('api'))
        assert.deepEqual(await store.get(rich.id), rich)
        assert.deepEqual((await store.get(rich.id))?.patch, richPatch('web'))
        const got = await store.get(plain.id)
        assert.deepEqual(got?.patch, plainPatch('api'))
        assert.equal(got?.format, 'legacy_v1')
        assert.equal(got?.client_id, null)
      })

      it('the created record is what get reads, for text holding a NUL too', async () => {
        const store = await fresh()
        const patch = { ...richPatch('web'), client_id: 'client\u0000id', description: 'one\u0000two' }
        const rec = await created(store, input('web', { patch, submittedBy: 'agent' }))
        assert.deepEqual(await store.get(rec.id), rec)
        assert.deepEqual((await store.get(rec.id))?.patch, patch)
      })

      it('get of an unknown id is null', async () => {
        const store = await fresh()
        assert.equal(await store.get('p_missing'), null)
      })

      it('records the submitting credential\'s name as submitted_by and as the enqueued event\'s detail; null without one', async () => {
        const store = await fresh()
        const named = await store.enqueue(input('web', { idempotencyKey: 'docs-agent:key:1', submittedBy: 'docs-agent' }))
        assert.equal(named.outcome, 'created')
        assert.equal(named.record.submitted_by, 'docs-agent')
        assert.equal(named.record.cancelled_by, null)
        assert.deepEqual(named.record.events.map(ev), [['queued', 'enqueued', 'docs-agent']])
        assert.deepEqual(await store.get(named.record.id), named.record)
        const [listed] = (await store.list({ limit: 1 })).items
        assert.equal(listed?.submitted_by, 'docs-agent')
        const again = await store.enqueue(input('web', { idempotencyKey: 'docs-agent:key:1', submittedBy: 'docs-agent' }))
        assert.equal(again.outcome, 'duplicate')
        assert.deepEqual(again.record, named.record)

        const anonymous = await created(store, input('web'))
        assert.equal(anonymous.submitted_by, null)
        assert.deepEqual(anonymous.events.map(ev), [['queued', 'enqueued', null]])
      })
    })

    describe('idempotency', () => {
      it('same key and hash is a duplicate returning the stored record; nothing new is queued', async () => {
        const store = await fresh()
        const first = await created(store, input('web', { idempotencyKey: 'k', bodyHash: 'h' }))
        const again = input('web', { idempotencyKey: 'k', bodyHash: 'h' })
        const res = await store.enqueue(again)
        assert.equal(res.outcome, 'duplicate')
        assert.deepEqual(res.record, first)
        assert.equal(await store.get(again.id), null)
        assert.equal((await store.list({ limit: 10 })).items.length, 1)
        assert.deepEqual(await store.counts(), [{ target: 'web', queued: 1, running: 0, oldest_queued_at: Date.parse(first.created_at) }])
      })

      it('same key with another hash is a conflict carrying the stored record', async () => {
        const store = await fresh()
        const first = await created(store, input('web', { idempotencyKey: 'k', bodyHash: 'h' }))
        const other = input('web', { idempotencyKey: 'k', bodyHash: 'h2' })
        const res = await store.enqueue(other)
        assert.equal(res.outcome, 'conflict')
        assert.equal(res.record.id, first.id)
        assert.equal(await store.get(other.id), null)
      })

      it('a key stays taken after its patch finished', async () => {
        const store = await fresh()
        const first = await created(store, input('web', { idempotencyKey: 'k', bodyHash: 'h' }))
        const c = await claimed(store)
        assert.equal(await store.complete(c.record.id, c.token, RESULT), true)
        const res = await store.enqueue(input('web', { idempotencyKey: 'k', bodyHash: 'h' }))
        assert.equal(res.outcome, 'duplicate')
        assert.equal(res.record.id, first.id)
        assert.equal(res.record.status, 'applied')
      })

      it('null keys never collide', async () => {
        const store = await fresh()
        await created(store, input('web', { bodyHash: 'same' }))
        await created(store, input('web', { bodyHash: 'same' }))
        assert.equal((await store.list({ limit: 10 })).items.length, 2)
      })

      it('concurrent enqueues of one key create it once', async () => {
        const store = await fresh()
        const a = input('web', { idempotencyKey: 'k', bodyHash: 'h' })
        const b = input('web', { idempotencyKey: 'k', bodyHash: 'h' })
        const res = await Promise.all([store.enqueue(a), store.enqueue(b)])
        assert.deepEqual(res.map((r) => r.outcome).sort(), ['created', 'duplicate'])
        assert.equal(res[0]?.record.id, res[1]?.record.id)
        assert.equal((await store.list({ limit: 10 })).items.length, 1)
      })

      it('an enqueue that violates a constraint fails alone', async () => {
        const store = await fresh()
        const id = newId()
        const other = input('web')
        const settled = await Promise.allSettled([
          store.enqueue(input('web', { id, idempotencyKey: 'k1' })),
          store.enqueue(input('web', { id, idempotencyKey: 'k2' })),
          store.enqueue(other),
        ])
        assert.equal(settled.filter((s, i) => i < 2 && s.status === 'fulfilled').length, 1, 'exactly one of the reused ids is stored')
        assert.equal(settled.filter((s, i) => i < 2 && s.status === 'rejected').length, 1)
        assert.equal(settled[2]?.status, 'fulfilled')
        assert.equal((await store.get(other.id))?.status, 'queued')
        assert.equal((await store.list({ limit: 10 })).items.length, 2)
      })
    })

    describe('claim', () => {
      it('is strict FIFO per target and never starts the second while the first runs', async () => {
        const store = await fresh()
        const [a1, a2, a3] = await lane(store, 'a', 3)
        const c1 = await claimed(store)
        assert.equal(c1.record.id, a1?.id)
        assert.equal(c1.record.status, 'running')
        assert.equal(c1.record.attempts, 1)
        assert.equal(await store.claim('runner-2', { targets: null, leaseMs: 1000 }), null)
        assert.equal(await store.complete(c1.record.id, c1.token, RESULT), true)
        const c2 = await claimed(store)
        assert.equal(c2.record.id, a2?.id)
        assert.equal(await store.claim('runner-2', { targets: ['a'], leaseMs: 1000 }), null)
        assert.equal(await store.fail(c2.record.id, c2.token, 'failed', CHECK_FAILED, null), true)
        const c3 = await claimed(store)
        assert.equal(c3.record.id, a3?.id)
        assert.equal(await store.complete(c3.record.id, c3.token, RESULT), true)
        assert.equal(await store.claim('runner-1', { targets: null, leaseMs: 1000 }), null)
      })

      it('returns the record, a lease and the claim event', async () => {
        const store = await fresh()
        const [a1] = await lane(store, 'a', 1)
        const now = Date.now()
        const c = await store.claim('runner-7', { targets: null, leaseMs: 30_000, now })
        assert.ok(c)
        assert.equal(c.leaseExpiresAt, now + 30_000)
        assert.ok(Number.isSafeInteger(c.token))
        assert.equal(c.record.id, a1?.id)
        assert.equal(c.record.started_at, new Date(now).toISOString())
        assert.deepEqual(c.record.events.map(ev), [
          ['queued', 'enqueued', null],
          ['running', 'claimed', 'runner-7'],
        ])
        assert.deepEqual(await store.get(c.record.id), c.record)
      })

      it('runs targets in parallel, oldest head first', async () => {
        const store = await fresh()
        const [a1] = await lane(store, 'a', 2)
        const [b1] = await lane(store, 'b', 1)
        const first = await claimed(store)
        const second = await claimed(store)
        assert.equal(first.record.id, a1?.id)
        assert.equal(second.record.id, b1?.id, 'a running patch on a does not block b')
        assert.ok(second.token > first.token)
        assert.equal(await store.claim('runner-1', { targets: null, leaseMs: 1000 }), null)
      })

      it('honours the targets filter', async () => {
        const store = await fresh()
        const [a1] = await lane(store, 'a', 1)
        const [b1] = await lane(store, 'b', 1)
        assert.equal(await store.claim('r', { targets: [], leaseMs: 1000 }), null)
        assert.equal(await store.claim('r', { targets: ['zzz'], leaseMs: 1000 }), null)
        assert.equal((await claimed(store, ['b', 'zzz'])).record.id, b1?.id)
        assert.equal(await store.claim('r', { targets: ['b'], leaseMs: 1000 }), null)
        assert.equal((await claimed(store, ['a'])).record.id, a1?.id)
      })

      it('concurrent claims never hand out one patch twice', async () => {
        const store = await fresh()
        await lane(store, 'a', 2)
        await lane(store, 'b', 2)
        await lane(store, 'c', 2)
        const got = await Promise.all(Array.from({ length: 10 }, (_, i) => store.claim(`r${i}`, { targets: null, leaseMs: 1000 })))
        const ids = got.filter((c) => c !== null).map((c) => c.record.id)
        assert.equal(ids.length, 3)
        assert.equal(new Set(ids).size, 3)
        assert.deepEqual(new Set(got.filter((c) => c !== null).map((c) => c.record.target)), new Set(['a', 'b', 'c']))
      })
    })

    describe('leases', () => {
      it('an expired lease goes back to queued, attempts kept, and is re-claimed with a greater token', async () => {
        const store = await fresh()
        const [a1, a2] = await lane(store, 'a', 2)
        const t = Date.now()
        const c1 = await claimed(store, null, 1000, t)
        assert.equal(c1.leaseExpiresAt, t + 1000)
        assert.equal(await store.reapExpired({ now: t + 999, maxAttempts: 3 }), 0)
        assert.equal((await store.get(c1.record.id))?.status, 'running')
        assert.equal(await store.reapExpired({ now: t + 1000, maxAttempts: 3 }), 1, 'a lease ends at lease_expires_at')
        const back = await store.get(c1.record.id)
        assert.equal(back?.status, 'queued')
        assert.equal(back?.attempts, 1)
        assert.equal(back?.started_at, null)
        assert.deepEqual(back?.events.at(-1), { at: new Date(t + 1000).toISOString(), status: 'queued', reason: 'lease_expired', detail: 'runner-1' })
        assert.equal(await store.reapExpired({ now: t + 5000, maxAttempts: 3 }), 0, 'nothing left to reap')
        const c2 = await store.claim('runner-2', { targets: null, leaseMs: 1000, now: t + 2000 })
        assert.ok(c2)
        assert.equal(c2.record.id, a1?.id, 'the reaped patch is still the head of its lane')
        assert.notEqual(c2.record.id, a2?.id)
        assert.ok(c2.token > c1.token, `token ${c2.token} must exceed ${c1.token}`)
        assert.equal(c2.record.attempts, 2)
        assert.equal(c2.record.started_at, new Date(t + 2000).toISOString())
      })

      it('a stale token is refused by complete, fail, heartbeat and release, leaving state unchanged', async () => {
        const store = await fresh()
        const [a1, a2] = await lane(store, 'a', 2)
        const t = Date.now()
        const c1 = await claimed(store, null, 1000, t)
        await store.reapExpired({ now: t + 1000, maxAttempts: 3 })
        const c2 = await claimed(store, null, 60_000, t + 2000)
        assert.equal(c2.record.id, a1?.id)
        const before = await store.get(c2.record.id)
        assert.equal(await store.complete(c1.record.id, c1.token, RESULT), false)
        assert.equal(await store.fail(c1.record.id, c1.token, 'failed', CHECK_FAILED, RESULT), false)
        assert.equal(await store.fail(c1.record.id, c1.token, 'rejected', CHECK_FAILED, null), false)
        assert.equal(await store.heartbeat(c1.record.id, c1.token, 60_000, t + 2500), false)
        assert.equal(await store.release(c1.record.id, c1.token, 'push_race'), false)
        assert.equal(await store.complete(a2?.id ?? '', c2.token, RESULT), false, 'a token fences its own patch only')
        assert.equal(await store.complete('p_missing', c2.token, RESULT), false)
        assert.deepEqual(await store.get(c2.record.id), before)
        assert.equal((await store.get(a2?.id ?? ''))?.status, 'queued')
        assert.equal(await store.reapExpired({ now: t + 2000 + 59_999, maxAttempts: 3 }), 0, 'the stale heartbeat did not touch the lease')
        assert.equal(await store.complete(c2.record.id, c2.token, RESULT), true)
      })

      it('heartbeat extends the lease', async () => {
        const store = await fresh()
        await lane(store, 'a', 1)
        const t = Date.now()
        const c = await claimed(store, null, 1000, t)
        assert.equal(await store.heartbeat(c.record.id, c.token, 5000, t + 500), true)
        assert.equal(await store.reapExpired({ now: t + 5499, maxAttempts: 3 }), 0)
        assert.equal((await store.get(c.record.id))?.status, 'running')
        assert.equal(await store.heartbeat('p_missing', c.token, 5000, t + 600), false)
        assert.equal(await store.reapExpired({ now: t + 5500, maxAttempts: 3 }), 1)
        assert.equal(await store.heartbeat(c.record.id, c.token, 5000, t + 5600), false, 'a reaped lease cannot be revived')
      })

      it('never fails a lost lease: from maxAttempts on it is requeued for a verification-only claim, at the head of its lane', async () => {
        const store = await fresh()
        const [a1, a2] = await lane(store, 'a', 2)
        const t = Date.now()
        await claimed(store, null, 100, t)
        assert.equal(await store.reapExpired({ now: t + 100, maxAttempts: 2 }), 1)
        assert.equal((await store.get(a1?.id ?? ''))?.status, 'queued')
        const again = await claimed(store, null, 100, t + 200)
        assert.equal(again.record.id, a1?.id)
        assert.equal(verifyOnly(again.record), false, 'the second attempt may still apply')
        assert.equal(await store.reapExpired({ now: t + 300, maxAttempts: 2 }), 1)
        const back = await store.get(a1?.id ?? '')
        assert.equal(back?.status, 'queued', 'the runner may have committed before it died: only a runner can tell')
        assert.equal(back?.attempts, 2)
        assert.equal(back?.error, null)
        assert.equal(back?.result, null)
        assert.equal(back?.finished_at, null)
        assert.deepEqual(back?.events.at(-1), { at: new Date(t + 300).toISOString(), status: 'queued', reason: VERIFY_ONLY_REASON, detail: 'runner-1' })
        assert.deepEqual(back?.events.map((e) => [e.status, e.reason]), [
          ['queued', 'enqueued'],
          ['running', 'claimed'],
          ['queued', 'lease_expired'],
          ['running', 'claimed'],
          ['queued', VERIFY_ONLY_REASON],
        ])
        assert.equal(await store.complete(again.record.id, again.token, RESULT), false, 'the lost lease stays fenced off')

        // The verification claim: still the head of its lane, marked verify-only.
        const verify = await claimed(store, null, 100, t + 400)
        assert.equal(verify.record.id, a1?.id)
        assert.equal(verify.record.attempts, 3)
        assert.equal(verifyOnly(verify.record), true)
        // A verification claim that loses its lease too is requeued the same way, never failed.
        assert.equal(await store.reapExpired({ now: t + 500, maxAttempts: 2 }), 1)
        const still = await store.get(a1?.id ?? '')
        assert.equal(still?.status, 'queued')
        assert.equal(still?.events.at(-1)?.reason, VERIFY_ONLY_REASON)
        // The runner that verifies records the truth itself; then the lane advances.
        const last = await claimed(store, null, 100, t + 600)
        assert.equal(last.record.id, a1?.id)
        assert.equal(verifyOnly(last.record), true)
        assert.equal(await store.fail(last.record.id, last.token, 'failed', { code: 'LEASE_LOST', message: 'no commit landed' }, null), true)
        assert.equal((await store.get(a1?.id ?? ''))?.error?.code, 'LEASE_LOST')
        assert.equal((await claimed(store)).record.id, a2?.id)
      })

      it('maxAttempts 1 requeues the first lost lease for verification only', async () => {
        const store = await fresh()
        const [a1] = await lane(store, 'a', 1)
        const t = Date.now()
        await claimed(store, null, 10, t)
        assert.equal(await store.reapExpired({ now: t + 10, maxAttempts: 1 }), 1)
        const back = await store.get(a1?.id ?? '')
        assert.equal(back?.status, 'queued')
        assert.equal(back && verifyOnly(back), true)
      })
    })

    describe('finishing', () => {
      it('complete marks applied with the result', async () => {
        const store = await fresh()
        await lane(store, 'a', 1)
        const c = await claimed(store)
        const before = Date.now()
        assert.equal(await store.complete(c.record.id, c.token, RESULT), true)
        const r = await store.get(c.record.id)
        assert.equal(r?.status, 'applied')
        assert.deepEqual(r?.result, RESULT)
        assert.equal(r?.error, null)
        assert.ok(r?.finished_at && Date.parse(r.finished_at) >= before)
        assert.equal(r?.updated_at, r?.finished_at)
        assert.deepEqual(r?.events.map(ev).at(-1), ['applied', 'completed', RESULT.commit])
        assert.equal(await store.complete(c.record.id, c.token, RESULT), false, 'a finished patch cannot finish twice')
        assert.equal(await store.heartbeat(c.record.id, c.token, 1000), false)
      })

      it('fail marks failed with error and result, or rejected without a result', async () => {
        const store = await fresh()
        const [a1, a2] = await lane(store, 'a', 2)
        const c1 = await claimed(store)
        const partial: PatchResult = { ...RESULT, commit: null, tag: null }
        assert.equal(await store.fail(c1.record.id, c1.token, 'failed', CHECK_FAILED, partial), true)
        const f = await store.get(a1?.id ?? '')
        assert.equal(f?.status, 'failed')
        assert.deepEqual(f?.error, CHECK_FAILED)
        assert.deepEqual(f?.result, partial)
        assert.ok(f?.finished_at)
        assert.deepEqual(f?.events.map(ev).at(-1), ['failed', 'CHECK_FAILED', 'npm test exited 1'])

        const c2 = await claimed(store)
        assert.equal(c2.record.id, a2?.id)
        const rejection: PatchError = { code: 'CONTEXT_NOT_FOUND', message: 'anchor not found', operation: 2, path: 'src/b.ts' }
        assert.equal(await store.fail(c2.record.id, c2.token, 'rejected', rejection, null), true)
        const r = await store.get(a2?.id ?? '')
        assert.equal(r?.status, 'rejected')
        assert.deepEqual(r?.error, rejection)
        assert.equal(r?.result, null)
        assert.deepEqual(r?.events.map(ev).at(-1), ['rejected', 'CONTEXT_NOT_FOUND', 'anchor not found'])
      })

      it('release puts the patch back at the head of its lane', async () => {
        const store = await fresh()
        const [a1] = await lane(store, 'a', 2)
        const c1 = await claimed(store)
        assert.equal(await store.release(c1.record.id, c1.token, 'push_race', 'remote moved'), true)
        const r = await store.get(c1.record.id)
        assert.equal(r?.status, 'queued')
        assert.equal(r?.attempts, 1)
        assert.deepEqual(r?.events.map(ev).at(-1), ['queued', 'push_race', 'remote moved'])
        assert.equal(await store.complete(c1.record.id, c1.token, RESULT), false, 'the released token is dead')
        const c2 = await claimed(store)
        assert.equal(c2.record.id, a1?.id)
        assert.ok(c2.token > c1.token)
        assert.equal(c2.record.attempts, 2)
        assert.equal(await store.release(c2.record.id, c2.token, 'shutdown'), true)
        assert.deepEqual((await store.get(c2.record.id))?.events.map(ev).at(-1), ['queued', 'shutdown', null])
      })

      it('a release that did not try the patch gives its attempt back', async () => {
        const store = await fresh()
        await lane(store, 'a', 1)
        const c1 = await claimed(store)
        assert.equal(await store.release(c1.record.id, c1.token, 'workspace_busy', 'held by r2', { attempted: false }), true)
        assert.equal((await store.get(c1.record.id))?.attempts, 0)
        const c2 = await claimed(store)
        assert.equal(c2.record.attempts, 1, 'the next claim is the first attempt')
        assert.deepEqual(c2.record.events.map(ev).slice(-2), [['queued', 'workspace_busy', 'held by r2'], ['running', 'claimed', 'runner-1']])
      })
    })

    describe('cancel', () => {
      it('cancels a queued patch and the lane behind it advances', async () => {
        const store = await fresh()
        const [a1, a2] = await lane(store, 'a', 2)
        const res = await store.cancel(a1?.id ?? '')
        assert.equal(res.outcome, 'cancelled')
        assert.ok(res.outcome === 'cancelled')
        assert.equal(res.record.status, 'cancelled')
        assert.ok(res.record.finished_at)
        assert.deepEqual(res.record.events.map(ev), [
          ['queued', 'enqueued', null],
          ['cancelled', 'cancelled', null],
        ])
        assert.deepEqual(await store.get(a1?.id ?? ''), res.record)
        assert.equal((await claimed(store)).record.id, a2?.id)
      })

      it('cancels a patch waiting behind a running one, with the given reason', async () => {
        const store = await fresh()
        const [a1, a2, a3] = await lane(store, 'a', 3)
        const c = await claimed(store)
        assert.equal(c.record.id, a1?.id)
        const res = await store.cancel(a2?.id ?? '', 'client_request')
        assert.equal(res.outcome, 'cancelled')
        assert.deepEqual((await store.get(a2?.id ?? ''))?.events.map(ev).at(-1), ['cancelled', 'client_request', null])
        await store.complete(c.record.id, c.token, RESULT)
        assert.equal((await claimed(store)).record.id, a3?.id)
      })

      it('refuses running and finished patches, and reports unknown ids', async () => {
        const store = await fresh()
        await lane(store, 'a', 1)
        const c = await claimed(store)
        const running = await store.cancel(c.record.id)
        assert.equal(running.outcome, 'not_cancellable')
        assert.equal(running.outcome === 'not_cancellable' && running.record.status, 'running')
        assert.equal((await store.get(c.record.id))?.status, 'running')
        await store.complete(c.record.id, c.token, RESULT)
        const done = await store.cancel(c.record.id)
        assert.equal(done.outcome, 'not_cancellable')
        assert.equal(done.outcome === 'not_cancellable' && done.record.status, 'applied')
        assert.deepEqual(await store.cancel('p_missing'), { outcome: 'not_found' })
        const [b1] = await lane(store, 'b', 1)
        await store.cancel(b1?.id ?? '')
        assert.equal((await store.cancel(b1?.id ?? '')).outcome, 'not_cancellable', 'cancelling twice')
      })

      it('records the cancelling credential\'s name as cancelled_by and as the cancelled event\'s detail; a refused cancel records none', async () => {
        const store = await fresh()
        const a1 = await created(store, input('a', { submittedBy: 'agent' }))
        const a2 = await created(store, input('a', { submittedBy: 'agent' }))
        const res = await store.cancel(a2.id, 'cancelled_by_client', 'operator')
        assert.ok(res.outcome === 'cancelled')
        assert.equal(res.record.cancelled_by, 'operator')
        assert.equal(res.record.submitted_by, 'agent')
        assert.deepEqual(res.record.events.map(ev), [
          ['queued', 'enqueued', 'agent'],
          ['cancelled', 'cancelled_by_client', 'operator'],
        ])
        assert.deepEqual(await store.get(a2.id), res.record)
        assert.equal((await store.list({ limit: 1 })).items[0]?.cancelled_by, 'operator')

        const c = await claimed(store)
        assert.equal(c.record.id, a1.id)
        assert.equal((await store.cancel(a1.id, 'cancelled_by_client', 'operator')).outcome, 'not_cancellable')
        const running = await store.get(a1.id)
        assert.equal(running?.cancelled_by, null)
        assert.equal(running?.events.some((e) => e.status === 'cancelled'), false)
      })

      it('refuses a queued patch a runner lost its lease on: it may have landed', async () => {
        const store = await fresh()
        const [a1] = await lane(store, 'a', 1)
        const t = Date.now()
        await claimed(store, null, 1000, t)
        assert.equal(await store.reapExpired({ now: t + 1000, maxAttempts: 3 }), 1)
        const res = await store.cancel(a1?.id ?? '')
        assert.equal(res.outcome, 'not_cancellable')
        assert.equal(res.outcome === 'not_cancellable' && res.record.status, 'queued')
        assert.equal((await store.get(a1?.id ?? ''))?.status, 'queued')
        // A patch put back without having written (another runner held the workspace) still can.
        const [b1] = await lane(store, 'b', 1)
        const c = await claimed(store, ['b'])
        assert.equal(await store.release(c.record.id, c.token, 'workspace_busy'), true)
        assert.equal((await store.cancel(b1?.id ?? '')).outcome, 'cancelled')
      })
    })

    describe('list', () => {
      async function seven(store: Store) {
        const ids: string[] = []
        for (let i = 0; i < 7; i++) ids.push((await created(store, input(i % 2 === 0 ? 'a' : 'b'))).id)
        return ids
      }

      it('pages newest first without duplicates or gaps', async () => {
        const store = await fresh()
        const ids = await seven(store)
        const newest = [...ids].reverse()
        const p1 = await store.list({ limit: 3 })
        assert.deepEqual(p1.items.map((i) => i.id), newest.slice(0, 3))
        assert.equal(typeof p1.next_cursor, 'string')
        const p2 = await store.list({ limit: 3, cursor: p1.next_cursor ?? '' })
        assert.deepEqual(p2.items.map((i) => i.id), newest.slice(3, 6))
        const p3 = await store.list({ limit: 3, cursor: p2.next_cursor ?? '' })
        assert.deepEqual(p3.items.map((i) => i.id), newest.slice(6))
        assert.equal(p3.next_cursor, null)
        assert.equal((await store.list({ limit: 7 })).next_cursor, null, 'an exactly full page has no next page')
        const six = await store.list({ limit: 6 })
        assert.deepEqual((await store.list({ limit: 6, cursor: six.next_cursor ?? '' })).items.map((i) => i.id), [ids[0]])
      })

      it('keeps its place when patches arrive between pages', async () => {
        const store = await fresh()
        const ids = await seven(store)
        const p1 = await store.list({ limit: 3 })
        await created(store, input('a'))
        const p2 = await store.list({ limit: 3, cursor: p1.next_cursor ?? '' })
        assert.deepEqual(p2.items.map((i) => i.id), [ids[3], ids[2], ids[1]])
      })

      it('filters by target and status, also across pages', async () => {
        const store = await fresh()
        const ids = await seven(store)
        const b1 = await store.list({ limit: 2, target: 'b' })
        assert.deepEqual(b1.items.map((i) => i.id), [ids[5], ids[3]])
        const b2 = await store.list({ limit: 2, target: 'b', cursor: b1.next_cursor ?? '' })
        assert.deepEqual(b2.items.map((i) => i.id), [ids[1]])
        assert.equal(b2.next_cursor, null)
        const c1 = await claimed(store)
        const c2 = await claimed(store)
        assert.deepEqual([c1.record.id, c2.record.id], [ids[0], ids[1]])
        assert.deepEqual((await store.list({ limit: 10, status: 'running' })).items.map((i) => i.id), [ids[1], ids[0]])
        assert.deepEqual((await store.list({ limit: 10, status: 'queued', target: 'a' })).items.map((i) => i.id), [ids[6], ids[4], ids[2]])
        assert.deepEqual((await store.list({ limit: 10, status: 'applied' })).items, [])
        assert.deepEqual((await store.list({ limit: 10, target: 'nope' })).items, [])
      })

      it('narrows to a submitter and to a set of targets in the query: every page full, cursors exact', async () => {
        const store = await fresh()
        // Twelve patches over three targets; `mine` submitted one in three, so a filter applied
        // after paging would return short or empty pages.
        const all: { id: string; target: string; by: string }[] = []
        for (let i = 0; i < 12; i++) {
          const target = ['a', 'b', 'c'][i % 3]!
          const by = i % 4 === 1 ? 'mine' : 'theirs'
          all.push({ id: (await created(store, input(target, { submittedBy: by }))).id, target, by })
        }
        const newest = [...all].reverse()
        const pages = async (query: Omit<ListQuery, 'cursor' | 'limit'>, limit: number) => {
          const seen: string[][] = []
          let cursor: string | undefined
          do {
            const page = await store.list({ ...query, limit, ...(cursor === undefined ? {} : { cursor }) })
            seen.push(page.items.map((i) => i.id))
            cursor = page.next_cursor ?? undefined
          } while (cursor !== undefined)
          return seen
        }
        const expect = (keep: (p: (typeof all)[number]) => boolean, limit: number) => {
          const ids = newest.filter(keep).map((p) => p.id)
          const out: string[][] = []
          for (let i = 0; i < ids.length; i += limit) out.push(ids.slice(i, i + limit))
          return out
        }

        assert.deepEqual(await pages({ submittedBy: 'mine' }, 2), expect((p) => p.by === 'mine', 2))
        assert.equal(expect((p) => p.by === 'mine', 2).length, 2, 'the submitter has three patches: a full page and one more')
        assert.deepEqual(await pages({ targets: ['a', 'c'] }, 3), expect((p) => p.target === 'a' || p.target === 'c', 3))
        assert.deepEqual(await pages({ targets: ['b'], submittedBy: 'theirs' }, 1), expect((p) => p.target === 'b' && p.by === 'theirs', 1))
        assert.deepEqual(await pages({ targets: ['a', 'b'], target: 'b', submittedBy: 'mine' }, 5), expect((p) => p.target === 'b' && p.by === 'mine', 5))
        assert.deepEqual(await pages({ targets: ['c'], target: 'a' }, 5), [[]], 'a target outside the set lists nothing')
        assert.deepEqual(await store.list({ limit: 5, targets: [] }), { items: [], next_cursor: null }, 'no target, no patch')
        assert.deepEqual(await store.list({ limit: 5, submittedBy: 'nobody' }), { items: [], next_cursor: null })
        for (const item of (await store.list({ limit: 100, submittedBy: 'mine' })).items) assert.equal(item.submitted_by, 'mine')
      })

      it('items are summaries without payload, result or events', async () => {
        const store = await fresh()
        await lane(store, 'a', 1)
        const c = await claimed(store)
        await store.fail(c.record.id, c.token, 'failed', CHECK_FAILED, RESULT)
        const [item] = (await store.list({ limit: 1 })).items
        assert.deepEqual(Object.keys(item ?? {}).sort(), SUMMARY_KEYS)
        const { patch: _p, events: _e, result: _r, ...summary } = (await store.get(c.record.id)) as PatchRecord
        assert.deepEqual(item, summary)
      })

      it('rejects a cursor it did not issue', async () => {
        const store = await fresh()
        await seven(store)
        await assert.rejects(store.list({ limit: 3, cursor: 'not a cursor!' }), { code: 'INVALID_CURSOR' })
        await assert.rejects(store.list({ limit: 3, cursor: Buffer.from('foo').toString('base64url') }), { code: 'INVALID_CURSOR' })
      })
    })

    it('records every transition in order with reason codes', async () => {
      const store = await fresh()
      const [a1] = await lane(store, 'a', 1)
      const t = Date.now()
      const c1 = await store.claim('r1', { targets: null, leaseMs: 1000, now: t })
      assert.ok(c1)
      await store.release(c1.record.id, c1.token, 'push_race', 'remote moved')
      const c2 = await store.claim('r2', { targets: null, leaseMs: 1000, now: t + 10 })
      assert.ok(c2)
      await store.reapExpired({ now: t + 1010, maxAttempts: 5 })
      const c3 = await store.claim('r3', { targets: null, leaseMs: 60_000, now: t + 2000 })
      assert.ok(c3)
      await store.fail(c3.record.id, c3.token, 'failed', CHECK_FAILED, null)
      const r = await store.get(a1?.id ?? '')
      assert.deepEqual(r?.events.map(ev), [
        ['queued', 'enqueued', null],
        ['running', 'claimed', 'r1'],
        ['queued', 'push_race', 'remote moved'],
        ['running', 'claimed', 'r2'],
        ['queued', 'lease_expired', 'r2'],
        ['running', 'claimed', 'r3'],
        ['failed', 'CHECK_FAILED', 'npm test exited 1'],
      ])
      assert.ok(r?.events.every((e) => isIso(e.at)))
      assert.deepEqual(r?.events.slice(1, 2).map((e) => e.at), [new Date(t).toISOString()])
      assert.equal(r?.attempts, 3)
    })

    it('announces each committed status change with the patch id, to subscribers only', async () => {
      const store = await fresh()
      const heard: (string | null)[] = []
      const stop = store.onPatchChanged((id) => heard.push(id))
      // Announcements from this store are made before its call resolves (PostgreSQL's LISTEN
      // echo of the same change may follow later).
      const announced = (id: string | undefined, what: string) => {
        assert.ok(id !== undefined && heard.includes(id), `${what}: heard ${JSON.stringify(heard)}`)
        heard.length = 0
      }
      const t = Date.now()
      const [a] = await lane(store, 'a', 1)
      announced(a?.id, 'enqueue')
      const c1 = await claimed(store, null, 1000, t)
      announced(a?.id, 'claim')
      assert.ok(await store.release(c1.record.id, c1.token, 'push_race'))
      announced(a?.id, 'release')
      await claimed(store, null, 1000, t)
      heard.length = 0
      assert.equal(await store.reapExpired({ now: t + 5000, maxAttempts: 5 }), 1)
      announced(a?.id, 'lease expiry')
      const c3 = await claimed(store, null, 60_000)
      heard.length = 0
      assert.ok(await store.complete(c3.record.id, c3.token, RESULT))
      announced(a?.id, 'complete')
      const [b] = await lane(store, 'b', 1)
      heard.length = 0
      assert.equal((await store.cancel(b?.id ?? '')).outcome, 'cancelled')
      announced(b?.id, 'cancel')
      const [c] = await lane(store, 'c', 1)
      const cc = await claimed(store, ['c'])
      heard.length = 0
      assert.ok(await store.fail(cc.record.id, cc.token, 'rejected', CHECK_FAILED, null))
      announced(c?.id, 'fail')

      stop()
      const [d] = await lane(store, 'd', 1)
      await new Promise((r) => setTimeout(r, 100))
      assert.ok(!heard.includes(d?.id ?? ''), 'nothing is heard after unsubscribing')
    })

    it('keeps runner heartbeats, newest state per runner, sorted by id', async () => {
      const store = await fresh()
      assert.deepEqual(await store.runners(), [])
      const t = Date.now()
      const started = '2024-05-01T10:00:00.123Z'
      await store.runnerHeartbeat({ id: 'r2', host: 'h2', pid: 22, started_at: started, info: {} }, t)
      await store.runnerHeartbeat({ id: 'r1', host: 'h1', pid: 11, started_at: started, info: { blocked: ['web'] } }, t + 1)
      await store.runnerHeartbeat({ id: 'r1', host: 'h1', pid: 12, started_at: started, info: { blocked: [], busy: 'api' } }, t + 5)
      assert.deepEqual(await store.runners(), [
        { id: 'r1', host: 'h1', pid: 12, started_at: started, last_seen: new Date(t + 5).toISOString(), info: { blocked: [], busy: 'api' } },
        { id: 'r2', host: 'h2', pid: 22, started_at: started, last_seen: new Date(t).toISOString(), info: {} },
      ])
    })

    it('counts queued and running per target with the oldest queued time', async () => {
      const store = await fresh()
      assert.deepEqual(await store.counts(), [])
      assert.equal(await store.queuedTotal(), 0)
      const [, a2] = await lane(store, 'a', 3)
      const [b1] = await lane(store, 'b', 1)
      await claimed(store, ['a'])
      assert.deepEqual(await store.counts(), [
        { target: 'a', queued: 2, running: 1, oldest_queued_at: Date.parse(a2?.created_at ?? '') },
        { target: 'b', queued: 1, running: 0, oldest_queued_at: Date.parse(b1?.created_at ?? '') },
      ])
      assert.equal(await store.queuedTotal(), 3)
      const cb = await claimed(store, ['b'])
      await store.complete(cb.record.id, cb.token, RESULT)
      assert.deepEqual((await store.counts()).find((c) => c.target === 'b'), { target: 'b', queued: 0, running: 0, oldest_queued_at: null })
      assert.equal(await store.queuedTotal(), 2)
    })

    it(`keeps ${burst} concurrent enqueues durable and claims them in creation order`, async () => {
      const store = await fresh()
      const inputs = Array.from({ length: burst }, (_, i) => input('burst', { idempotencyKey: `k${i}`, bodyHash: `h${i}` }))
      const results = await Promise.all(inputs.map((i) => store.enqueue(i)))
      assert.ok(results.every((r) => r.outcome === 'created'))
      assert.deepEqual(results.map((r) => r.record.id), inputs.map((i) => i.id))
      for (const i of inputs) assert.equal((await store.get(i.id))?.status, 'queued')

      const listed: string[] = []
      let cursor: string | undefined
      do {
        const page = await store.list({ limit: 64, target: 'burst', cursor })
        listed.push(...page.items.map((i) => i.id))
        cursor = page.next_cursor ?? undefined
      } while (cursor)
      assert.equal(listed.length, burst)
      assert.equal(new Set(listed).size, burst)

      const order: string[] = []
      let last = 0
      for (;;) {
        const c = await store.claim('runner-1', { targets: null, leaseMs: 60_000 })
        if (!c) break
        assert.ok(c.token > last)
        last = c.token
        order.push(c.record.id)
        assert.equal(await store.complete(c.record.id, c.token, RESULT), true)
      }
      assert.deepEqual(order, [...listed].reverse(), 'claims follow creation order')
      if (opts.enqueueKeepsCallOrder) assert.deepEqual(order, inputs.map((i) => i.id), 'creation order is call order')
      assert.deepEqual(await store.counts(), [{ target: 'burst', queued: 0, running: 0, oldest_queued_at: null }])
    })

    it('close settles enqueues already accepted', async () => {
      const store = await make()
      const pending = store.enqueue(input('a'))
      await store.close()
      assert.equal((await pending).outcome, 'created')
    })

    outboxConformance(fresh)
    totalsConformance(fresh)

    it('ping writes, and migrate is idempotent', async () => {
      const store = await fresh()
      const [a1] = await lane(store, 'a', 1)
      assert.equal(await store.ping(), undefined)
      await store.ping()
      await store.migrate()
      assert.deepEqual(await store.get(a1?.id ?? ''), a1)
      assert.ok(store.kind === 'sqlite' || store.kind === 'postgres')
    })
  })
}
