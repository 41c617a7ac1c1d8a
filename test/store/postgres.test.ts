import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pg from 'pg'
import { openPostgresStore } from '../../src/store/postgres/index.js'
import { pruneSql } from '../../src/store/postgres/retention.js'
import { input, plainPatch } from './inputs.js'
import { storeConformance } from './conformance.js'
import { DATABASE_URL, RESULT, SKIP, admin, freshSchema, openTestStore, planNodes, recorder, type PlanNode } from './postgres-fixtures.js'

// The contract, not the deadline (postgres-deadline.test.ts): a burst of 200 enqueues on one
// lane over four connections queues for seconds on a loaded machine, which the default 5 s
// deadline would rightly turn into failures.
if (DATABASE_URL) storeConformance('postgres', () => openTestStore(undefined, { deadlineMs: 60_000 }))

describe('postgres store', { skip: SKIP }, () => {
  it('keeps its tables in its own schema, and the database refuses a second running patch per target', async () => {
    const schema = freshSchema()
    const store = await openTestStore(schema)
    try {
      await store.enqueue(input('a'))
      await store.enqueue(input('a'))
      const db = await admin()
      const s = pg.escapeIdentifier(schema)
      assert.deepEqual((await db.query(`SELECT version, name FROM ${s}.schema_migrations ORDER BY version`)).rows, [
        { version: 1, name: 'patch queue' },
        { version: 2, name: 'notification outbox' },
        { version: 3, name: 'credential names on patches' },
        { version: 4, name: 'status totals and list indexes' },
        { version: 5, name: 'retention' },
        { version: 6, name: 'filtered lists order by their own indexes' },
        { version: 7, name: 'lz4 for patch payloads' },
        { version: 8, name: 'no row-by-row key checks on enqueue' },
      ])
      // Payloads are compressed with lz4 where the server has it (a temporary table tells).
      const lz4 = await db.query('CREATE TEMP TABLE lz4_probe (x text COMPRESSION lz4)').then(() => true, () => false)
      const methods = await db.query(
        `SELECT attname, attcompression FROM pg_attribute WHERE attrelid = $1::regclass AND attname IN ('patch', 'result') ORDER BY attname`,
        [`${s}.patches`],
      )
      assert.deepEqual(methods.rows, [{ attname: 'patch', attcompression: lz4 ? 'l' : '' }, { attname: 'result', attcompression: lz4 ? 'l' : '' }])
      assert.deepEqual((await db.query(`SELECT lane_seq FROM ${s}.patches ORDER BY lane_seq`)).rows.map((r: { lane_seq: string }) => Number(r.lane_seq)), [1, 2])
      await assert.rejects(db.query(`UPDATE ${s}.patches SET status = 'running'`), { code: '23505', constraint: 'patches_one_running' })
      const tables = await db.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`, [schema])
      assert.deepEqual(tables.rows.map((r: { table_name: string }) => r.table_name), ['deliveries', 'events', 'lane_tails', 'lanes', 'patch_totals', 'patches', 'pings', 'runners', 'schema_migrations'])
    } finally {
      await store.close()
    }
  })

  it('retention deletes the events of the patches it prunes, by index, and no other events', async () => {
    const schema = freshSchema()
    const store = await openTestStore(schema)
    const db = await admin()
    const s = pg.escapeIdentifier(schema)
    try {
      // Events are deleted by retention itself since no foreign key cascades them (schema v8).
      assert.deepEqual((await db.query(`SELECT conname FROM pg_constraint WHERE conrelid IN ($1::regclass, $2::regclass) AND contype = 'f'`, [`${s}.patches`, `${s}.events`])).rows, [])
      const old = await store.enqueue(input('a'))
      const kept = await store.enqueue(input('a'))
      assert.equal((await store.cancel(old.record.id)).outcome, 'cancelled')
      await store.fillHistory!({ target: 'b', count: 20_000, status: 'applied', at: Date.now() + 3_600_000, payload: '{}' })
      await db.query(`ANALYZE ${s}.events`)
      const events = async (id: string) => Number((await db.query(`SELECT count(*) AS n FROM ${s}.events WHERE patch_id = $1`, [id])).rows[0].n)
      assert.equal(await events(old.record.id), 2)
      const before = Number((await db.query(`SELECT count(*) AS n FROM ${s}.events`)).rows[0].n)
      assert.equal(await store.prune({ finishedBefore: Date.now() + 1000, limit: 10 }), 1)
      assert.equal(await events(old.record.id), 0, 'the pruned patch has no events left')
      assert.equal(await events(kept.record.id), 1)
      assert.equal(Number((await db.query(`SELECT count(*) AS n FROM ${s}.events`)).rows[0].n), before - 2)
      // The events are found through their index, not by reading the 60,000 others.
      // The plan a prepared statement may keep, made without knowing the limit.
      await db.query('SET plan_cache_mode = force_generic_plan')
      const explained = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${pruneSql(s)}`, [new Date(Date.now() + 1000).toISOString(), 10])
      const onEvents = planNodes(explained.rows[0]!['QUERY PLAN'][0].Plan).filter((n) => n['Relation Name'] === 'events' || n['Index Name']?.startsWith('events'))
      assert.deepEqual(
        onEvents.filter((n) => n['Node Type'] !== 'ModifyTable').map((n) => `${n['Node Type']} ${n['Index Name'] ?? ''}`.trim()),
        ['Index Scan events_by_patch'],
      )
    } finally {
      await db.end()
      await store.close()
    }
  })

  it('migrates once; a store opened without migrating says what to run', async () => {
    const schema = freshSchema()
    const rec = recorder()
    const unmigrated = await openTestStore(schema, { migrate: false, logger: rec.logger })
    await assert.rejects(unmigrated.get('x'), /ghost-runner migrate/)
    await unmigrated.migrate()
    assert.equal(await unmigrated.get('x'), null)
    await unmigrated.close()
    assert.deepEqual(rec.lines.filter((l) => l.msg === 'store migration applied').map((l) => l.obj), [
      { schema, version: 1, migration: 'patch queue' },
      { schema, version: 2, migration: 'notification outbox' },
      { schema, version: 3, migration: 'credential names on patches' },
      { schema, version: 4, migration: 'status totals and list indexes' },
      { schema, version: 5, migration: 'retention' },
      { schema, version: 6, migration: 'filtered lists order by their own indexes' },
      { schema, version: 7, migration: 'lz4 for patch payloads' },
      { schema, version: 8, migration: 'no row-by-row key checks on enqueue' },
    ])
    const rec2 = recorder()
    const reopened = await openTestStore(schema, { logger: rec2.logger })
    await reopened.migrate()
    assert.equal(rec2.lines.filter((l) => l.msg === 'store migration applied').length, 0)
    await reopened.close()
  })

  it('keeps everything across close and reopen, fencing tokens included', async () => {
    const schema = freshSchema()
    const first = await openTestStore(schema)
    const a1 = (await first.enqueue(input('a', { idempotencyKey: 'k1', bodyHash: 'h1' }))).record
    const a2 = (await first.enqueue(input('a'))).record
    const c = await first.claim('r1', { targets: ['a'], leaseMs: 60_000 })
    assert.ok(c)
    const late = first.enqueue(input('b', { patch: plainPatch('b', 'late') }))
    await first.close()
    const lateId = (await late).record.id

    const again = await openTestStore(schema)
    assert.deepEqual(await again.get(a1.id), c.record)
    assert.equal((await again.get(lateId))?.description, 'late')
    assert.equal((await again.enqueue(input('a', { idempotencyKey: 'k1', bodyHash: 'h1' }))).outcome, 'duplicate')
    assert.equal(await again.complete(c.record.id, c.token, RESULT), true, 'a lease outlives the store instance that granted it')
    const next = await again.claim('r2', { targets: ['a'], leaseMs: 1000 })
    assert.equal(next?.record.id, a2.id)
    assert.ok(next && next.token > c.token)
    await again.close()
  })

  it('stores text Postgres cannot hold: json keeps it exactly, text columns get U+FFFD', async () => {
    const store = await openTestStore()
    try {
      const patch = { ...plainPatch('a', 'nul \u0000 here'), operations: [{ op: 'write' as const, path: 'bin', contents: 'a\u0000b\ud800' }] }
      const res = await store.enqueue(input('a', { patch, idempotencyKey: 'key\u0000' }))
      assert.equal(res.outcome, 'created')
      const got = await store.get(res.record.id)
      assert.deepEqual(got?.patch, patch)
      assert.equal(got?.description, 'nul \uFFFD here')
      const c = await store.claim('runner\u0000', { targets: null, leaseMs: 1000 })
      assert.ok(c)
      const error = { code: 'CHECK_FAILED', message: 'exit 1: \u0000', detail: 'tail \u0000' }
      assert.equal(await store.fail(c.record.id, c.token, 'failed', error, { ...RESULT, checks: [{ name: 't', argv: [], exit_code: 1, signal: null, timed_out: false, duration_ms: 1, output_tail: '\u0000' }] }), true)
      const failed = await store.get(c.record.id)
      assert.deepEqual(failed?.error, error)
      assert.equal(failed?.result?.checks[0]?.output_tail, '\u0000')
      assert.deepEqual(failed?.events.at(-1)?.detail, 'exit 1: \uFFFD')
      assert.equal(await store.get('p_\u0000'), null)
    } finally {
      await store.close()
    }
  })

  it('refuses a schema name it would have to quote', async () => {
    await assert.rejects(openTestStore('Bad-Name'), RangeError)
    await assert.rejects(openTestStore('x; DROP TABLE y'), RangeError)
  })

  it('fails operations with an error, not a hang, when the database cannot be reached', async () => {
    const store = await openPostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', migrate: false, connectTimeoutMs: 1000 })
    try {
      await assert.rejects(store.get('x'), { code: 'ECONNREFUSED' })
      await assert.rejects(store.enqueue(input('a')), { code: 'ECONNREFUSED' })
    } finally {
      await store.close()
    }
    await assert.rejects(openPostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectTimeoutMs: 1000 }), { code: 'ECONNREFUSED' })
  })
})
