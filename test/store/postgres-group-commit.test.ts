// Group commit on PostgreSQL: concurrent enqueues share transactions and keep every guarantee
// of one enqueue per transaction (lane order, keys, outbox rows, totals, one failure stays alone).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pg from 'pg'
import { input, plainPatch } from './inputs.js'
import { SKIP, admin, freshSchema, openTestStore } from './postgres-fixtures.js'

describe('postgres group commit', { skip: SKIP }, () => {
  it('stores a burst in a few transactions, in lane order, keys answered once, one outbox row and one count each', async () => {
    const schema = freshSchema()
    const store = await openTestStore(schema, { deadlineMs: 60_000 })
    store.setSubscriptions([{ url: 'http://hook.example/', events: ['queued'] }])
    try {
      const inputs = Array.from({ length: 150 }, (_, i) => {
        const target = ['a', 'b', 'c'][i % 3]!
        // Every tenth carries a key; each key is sent twice, the second time from another "client".
        const key = i % 10 === 0 ? `k${i}` : null
        return input(target, { patch: plainPatch(target, `p${i}`), idempotencyKey: key, bodyHash: 'h' })
      })
      const repeats = inputs.filter((i) => i.idempotencyKey !== null).map((i) => ({ ...i, id: `${i.id}-again` }))
      const results = await Promise.all([...inputs, ...repeats].map((i) => store.enqueue(i)))
      const stats = store.groupCommitStats()
      assert.ok(stats.largest > 1 && stats.batches < 150, `not grouped: ${JSON.stringify(stats)}`)

      const created = results.filter((r) => r.outcome === 'created')
      assert.equal(created.length, 150)
      for (const [i, r] of results.slice(150).entries()) {
        assert.equal(r.outcome, 'duplicate')
        assert.equal(r.record.id, inputs.filter((x) => x.idempotencyKey !== null)[i]!.id)
      }
      const db = await admin()
      const s = pg.escapeIdentifier(schema)
      for (const target of ['a', 'b', 'c']) {
        const rows = (await db.query<{ id: string; lane_seq: number; seq: number }>(`SELECT id, lane_seq::int, seq::int FROM ${s}.patches WHERE target = $1 ORDER BY lane_seq`, [target])).rows
        assert.equal(rows.length, 50)
        const seqs = rows.map((r) => r.seq)
        assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `${target}: seq follows lane_seq`)
        // Lane numbers follow acceptance order, within a batch as across batches.
        assert.deepEqual(rows.map((r) => r.id), inputs.filter((i) => i.patch.target === target).map((i) => i.id), `${target}: lane order is acceptance order`)
      }
      const deliveries = await db.query(`SELECT count(*)::int AS n FROM ${s}.deliveries`)
      assert.equal(deliveries.rows[0].n, 150)
      const events = await db.query(`SELECT count(*)::int AS n FROM ${s}.events`)
      assert.equal(events.rows[0].n, 150)
      assert.equal(await store.queuedTotal(), 150)
      // Claim order is acceptance order within each lane, whatever batch a patch was in.
      const first = await store.claim('r', { targets: ['a'], leaseMs: 1000 })
      const inA = (await store.list({ target: 'a', limit: 100 })).items
      assert.equal(first?.record.id, inA[inA.length - 1]!.id)
    } finally {
      await store.close()
    }
  })

  it('an enqueue that violates a constraint fails alone; the others of its batch are stored', async () => {
    const store = await openTestStore(undefined, { deadlineMs: 60_000 })
    try {
      const inputs = Array.from({ length: 20 }, () => input('a'))
      inputs[7] = { ...inputs[7]!, id: inputs[3]!.id }
      const settled = await Promise.allSettled(inputs.map((i) => store.enqueue(i)))
      const failed = settled.filter((r) => r.status === 'rejected')
      assert.equal(failed.length, 1, JSON.stringify(failed))
      assert.equal(settled.filter((r) => r.status === 'fulfilled').length, 19)
      assert.ok(store.groupCommitStats().largest > 1)
      assert.equal(await store.queuedTotal(), 19)
    } finally {
      await store.close()
    }
  })
})
