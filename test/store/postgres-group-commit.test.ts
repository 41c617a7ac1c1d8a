// Group commit on PostgreSQL: concurrent enqueues share transactions and keep every guarantee
// of one enqueue per transaction (lane order, keys, outbox rows, totals, one failure stays alone).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pg from 'pg'
import type { EnqueueInput } from '../../src/store/port/queue.js'
import type { PostgresStore } from '../../src/store/postgres/index.js'
import { input, plainPatch } from './inputs.js'
import { SKIP, admin, appName, freshSchema, openTestStore } from './postgres-fixtures.js'

/**
 * Enqueues every input at once; returns the results and the ids in the order the store
 * acknowledged them: the order a caller learns of its 202, which a lane must keep. (Calls still
 * in flight together have no order of their own: two batches may commit either way round.)
 */
async function enqueueAll(store: PostgresStore, inputs: EnqueueInput[]) {
  const acknowledged: string[] = []
  const results = await Promise.all(inputs.map((i) => store.enqueue(i).then((r) => (r.outcome === 'created' && acknowledged.push(r.record.id), r))))
  return { results, acknowledged }
}

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
      const { results, acknowledged } = await enqueueAll(store, [...inputs, ...repeats])
      const stats = store.groupCommitStats()
      assert.ok(stats.largest > 1 && stats.batches < 150, `not grouped: ${JSON.stringify(stats)}`)

      const created = results.filter((r) => r.outcome === 'created')
      assert.equal(created.length, 150)
      // Each key is answered once: one of its two calls (in flight together, so either may be
      // first) is created, the other answered with that record.
      const keyed = inputs.flatMap((x, i) => (x.idempotencyKey === null ? [] : [i]))
      for (const [j, i] of keyed.entries()) {
        const pair = [results[i]!, results[150 + j]!]
        assert.deepEqual(pair.map((r) => r.outcome).sort(), ['created', 'duplicate'], `key ${inputs[i]!.idempotencyKey}`)
        assert.equal(pair[0]!.record.id, pair[1]!.record.id)
      }
      const db = await admin()
      const s = pg.escapeIdentifier(schema)
      for (const target of ['a', 'b', 'c']) {
        const rows = (await db.query<{ id: string; lane_seq: number; seq: number }>(`SELECT id, lane_seq::int, seq::int FROM ${s}.patches WHERE target = $1 ORDER BY lane_seq`, [target])).rows
        assert.equal(rows.length, 50)
        const seqs = rows.map((r) => r.seq)
        assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `${target}: seq follows lane_seq`)
        // Lane numbers follow acceptance order, within a batch as across batches.
        assert.deepEqual(rows.map((r) => r.id), acknowledged.filter((id) => rows.some((r) => r.id === id)), `${target}: lane order is acceptance order`)
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

  it('under a steady stream batches of at most maxBatch follow one another; order holds and no connection is left in a transaction', async () => {
    const schema = freshSchema()
    // Small batches, so most callers wait while one commits and leave together when it ends.
    const store = await openTestStore(schema, { deadlineMs: 60_000, maxBatch: 4 })
    try {
      const inputs = Array.from({ length: 60 }, (_, i) => input(['a', 'b'][i % 2]!, { patch: plainPatch(['a', 'b'][i % 2]!, `s${i}`) }))
      const { results, acknowledged } = await enqueueAll(store, inputs)
      assert.ok(results.every((r) => r.outcome === 'created'))
      const stats = store.groupCommitStats()
      assert.ok(stats.largest <= 4 && stats.batches >= 15, `batches over maxBatch: ${JSON.stringify(stats)}`)
      assert.equal(stats.items, 60)

      const db = await admin()
      const s = pg.escapeIdentifier(schema)
      for (const target of ['a', 'b']) {
        const rows = (await db.query<{ id: string }>(`SELECT id FROM ${s}.patches WHERE target = $1 ORDER BY lane_seq`, [target])).rows
        assert.deepEqual(rows.map((r) => r.id), acknowledged.filter((id) => rows.some((r) => r.id === id)), `${target}: lane order is acceptance order`)
      }
      // Every connection went back to the pool outside a transaction.
      const open = await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state LIKE 'idle in transaction%'`, [appName(schema)])
      assert.equal(open.rows[0].n, 0)
      assert.equal(await store.queuedTotal(), 60)
    } finally {
      await store.close()
    }
  })

  it('a commit the server refuses fails its callers for certain; a connection that dies in the commit leaves them uncertain', async () => {
    const schema = freshSchema()
    const store = await openTestStore(schema, { deadlineMs: 60_000 })
    try {
      assert.equal((await store.enqueue(input('a'))).outcome, 'created')
      const db = await admin()
      const s = pg.escapeIdentifier(schema)
      // A deferred constraint trigger runs inside COMMIT: it refuses one patch with an ERROR, and
      // for another ends its own connection (as an administrator's shutdown would) mid-commit.
      await db.query(`
        CREATE FUNCTION ${s}.at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.description = 'refuse' THEN RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'check_violation'; END IF;
          IF NEW.description = 'die' THEN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); END IF;
          RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON ${s}.patches DEFERRABLE INITIALLY DEFERRED
          FOR EACH ROW EXECUTE FUNCTION ${s}.at_commit()`)
      const refused = input('a', { patch: plainPatch('a', 'refuse') })
      const certain = await store.enqueue(refused).then(
        () => assert.fail('a refused commit answered'),
        (error: Error) => error,
      )
      assert.ok(certain instanceof pg.DatabaseError, String(certain))
      const died = input('a', { patch: plainPatch('a', 'die') })
      const open = await store.enqueue(died).then(
        () => assert.fail('a commit cut short answered'),
        (error: Error & { patchId?: string }) => error,
      )
      assert.equal(open.name, 'EnqueueUncertainError', String(open))
      assert.equal(open.patchId, died.id)
      const stored = await db.query(`SELECT description FROM ${s}.patches ORDER BY seq`)
      assert.deepEqual(stored.rows.map((r: { description: string }) => r.description), ['patch'])
      assert.equal((await store.enqueue(input('a'))).outcome, 'created', 'the store goes on')
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
