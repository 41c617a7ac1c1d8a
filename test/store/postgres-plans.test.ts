import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type pg from 'pg'
import { qualifier } from '../../src/store/postgres/identifiers.js'
import { listSql } from '../../src/store/postgres/list.js'
import { admin, freshSchema, openTestStore, planNodes, SKIP, type PlanNode } from './postgres-fixtures.js'
import { input } from './inputs.js'

const LIMIT = 50

/** The nodes of the plan a list query runs with, executed (EXPLAIN ANALYZE). */
async function plan(db: pg.Client, query: ReturnType<typeof listSql>): Promise<PlanNode[]> {
  const res = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${query.text}`, query.values)
  return planNodes(res.rows[0]!['QUERY PLAN'][0].Plan)
}

/** Rows read by sequential scans of the schema's patches table, once the server has counted them. */
async function seqRowsRead(db: pg.Client, schema: string): Promise<number> {
  const read = async () => {
    await db.query('SELECT pg_stat_clear_snapshot()')
    const res = await db.query<{ n: string | null }>(`SELECT seq_tup_read AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'patches'`, [schema])
    return Number(res.rows[0]?.n ?? 0)
  }
  // A backend reports its counts when it goes idle, at most once a second.
  let last = await read()
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 200))
    const now = await read()
    if (now === last && i >= 6) return now
    last = now
  }
  return last
}

describe('postgres plans', { skip: SKIP }, () => {
  it('statements keep no plan made for an empty store: keyed enqueues at 20,000 patches scan no table', async () => {
    const schema = freshSchema()
    const store = await openTestStore(schema)
    const db = await admin()
    try {
      // Batches of keyed enqueues while the table is a few pages: past five executions on a
      // connection the server may keep a generic plan, and for such a table that is a scan of it.
      const batches = async (name: string) => {
        for (let b = 0; b < 12; b++) {
          const done = await Promise.all(Array.from({ length: 20 }, (_, i) => store.enqueue(input('web', { idempotencyKey: `${name}-${b}-${i}` }))))
          assert.ok(done.every((r) => r.outcome === 'created'))
        }
      }
      await batches('early')
      await store.fillHistory!({ target: 'web', count: 20_000, status: 'applied', at: Date.now() - 86_400_000, payload: '{}' })
      const before = await seqRowsRead(db, schema)
      await batches('late')
      const read = (await seqRowsRead(db, schema)) - before
      assert.ok(read < 1_000, `240 enqueues read ${read} rows of the patches table by sequential scans`)
    } finally {
      await db.end()
      await store.close()
    }
  })

  it('a page of a value that is most of the history, but none of the newest patches, reads its own index, not every newer patch', async () => {
    const schema = freshSchema()
    const store = await openTestStore(schema)
    const db = await admin()
    try {
      // 'web' is most of the history; the newest 6,000 patches are all 'api'. With a seq-ordered
      // plan a page of 'web' would filter its way through every one of them.
      const at = Date.now() - 86_400_000
      await store.fillHistory!({ target: 'web', count: 20_000, status: 'applied', at, payload: '{}' })
      await store.fillHistory!({ target: 'api', count: 6_000, status: 'applied', at, payload: '{}' })
      await db.query(`ANALYZE ${qualifier(schema)}.patches`)
      const s = qualifier(schema)
      const newestWeb = Number((await db.query<{ seq: string }>(`SELECT max(seq) AS seq FROM ${s}.patches WHERE target = 'web'`)).rows[0]!.seq)
      for (const query of [
        { target: 'web' },
        { target: 'web', status: 'applied' as const },
        { targets: ['web', 'nowhere'] },
        { target: 'web', status: 'applied' as const, before: newestWeb - 100 },
      ]) {
        const steps = await plan(db, listSql(s, { ...query, limit: LIMIT }))
        const removed = steps.reduce((n, step) => n + (step['Rows Removed by Filter'] ?? 0), 0)
        assert.ok(removed <= LIMIT, `${JSON.stringify(query)}: the page filtered out ${removed} rows (${steps.map((x) => x['Index Name'] ?? x['Node Type']).join(' > ')})`)
        assert.ok(!steps.some((x) => x['Node Type'] === 'Sort' || x['Node Type'] === 'Seq Scan') || 'targets' in query, `${JSON.stringify(query)}: sorted or scanned the table`)
        const page = await store.list({ ...('targets' in query ? { targets: query.targets } : query), limit: LIMIT } as Parameters<typeof store.list>[0])
        assert.equal(page.items.length, LIMIT)
        assert.ok(page.items.every((p) => p.target === 'web'))
      }
    } finally {
      await db.end()
      await store.close()
    }
  })
})
