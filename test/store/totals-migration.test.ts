// Schema v4 backfills the per-status totals from the patches already stored, on both stores.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import pg from 'pg'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import { runMigrations as sqliteMigrations } from '../../src/store/sqlite/migrations.js'
import { MIGRATIONS as SQLITE } from '../../src/store/sqlite/schema.js'
import { runMigrations as postgresMigrations } from '../../src/store/postgres/migrations.js'
import { MIGRATIONS as POSTGRES } from '../../src/store/postgres/schema.js'
import type { StatusTotal } from '../../src/store/port/totals.js'
import { tempDir } from '../helpers/temp.js'
import { DATABASE_URL, SKIP, freshSchema, openTestStore } from './postgres-fixtures.js'

// Six patches of `a` (two queued, one running with 2 attempts, two applied, one cancelled) and one of `b`.
const ROWS: [string, string, number][] = [
  ['a', 'applied', 1],
  ['a', 'applied', 3],
  ['a', 'cancelled', 0],
  ['a', 'running', 2],
  ['a', 'queued', 0],
  ['a', 'queued', 1],
  ['b', 'queued', 0],
]
const EXPECTED = ['a/applied 2/2', 'a/cancelled 1/1', 'a/queued 2/6', 'a/running 1/7', 'b/queued 1/1', 'b/running 0/0']
const show = (totals: StatusTotal[]) => totals.map((t) => `${t.target}/${t.status} ${t.current}/${t.reached}`)

describe('schema v4 backfills the totals', () => {
  it('on SQLite', async () => {
    const file = join(tempDir('gr-totals-'), 'store.db')
    const db = new Database(file)
    sqliteMigrations(db, undefined, SQLITE.slice(0, 3))
    db.prepare("INSERT INTO lanes (target, next_seq) VALUES ('a', 6), ('b', 1)").run()
    const insert = db.prepare(`INSERT INTO patches (id, seq, target, lane_seq, status, format, description, body_hash, payload, attempts, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, 'native', '', 'h', '{}', ?, 0, 0)`)
    ROWS.forEach(([target, status, attempts], i) => insert.run(`p${i}`, i + 1, target, i + 1, status, attempts))
    db.close()
    const store = await openSqliteStore({ file })
    try {
      assert.deepEqual(show(await store.totals()), EXPECTED)
      assert.equal(await store.queuedTotal(), 3)
    } finally {
      await store.close()
    }
  })

  it('on PostgreSQL', { skip: SKIP }, async () => {
    const schema = freshSchema()
    const pool = new pg.Pool({ connectionString: DATABASE_URL })
    try {
      await postgresMigrations(pool, schema, undefined, POSTGRES.slice(0, 3))
      const s = pg.escapeIdentifier(schema)
      await pool.query(`INSERT INTO ${s}.lanes (target) VALUES ('a'), ('b')`)
      for (const [i, [target, status, attempts]] of ROWS.entries()) {
        await pool.query(
          `INSERT INTO ${s}.patches (id, seq, target, lane_seq, status, format, description, body_hash, patch, attempts, created_at, updated_at)
           VALUES ($1, $2, $3, $2, $4, 'native', '', 'h', '{}', $5, now(), now())`,
          [`p${i}`, i + 1, target, status, attempts],
        )
      }
    } finally {
      await pool.end()
    }
    const store = await openTestStore(schema)
    try {
      assert.deepEqual(show(await store.totals()), EXPECTED)
      assert.equal(await store.queuedTotal(), 3)
    } finally {
      await store.close()
    }
  })
})
