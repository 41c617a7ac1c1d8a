// The retention loop on both stores: it prunes in batches and lets enqueues through between them.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { loadConfig } from '../../src/config.js'
import { tempDir } from '../helpers/git.js'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import type { Store } from '../../src/store/port.js'
import { Pruner } from '../../src/store/pruner.js'
import { input } from './inputs.js'
import { SKIP, openTestStore } from './postgres-fixtures.js'

async function interleaves(store: Store) {
  await store.fillHistory!({ target: 'a', count: 3000, status: 'applied', at: Date.now() - 60_000, payload: '{}' })
  const kept = (await store.enqueue(input('a'))).record.id
  let pruned = 0
  const pruner = new Pruner(store, { maxAgeMs: 1000, batch: 100, pauseMs: 5, intervalMs: 60_000, reclaimPages: 100, onPruned: (n) => (pruned += n) })
  let done = false
  const round = pruner.runRound().then(() => (done = true))
  const during: boolean[] = []
  while (!done && during.length < 10) {
    await store.enqueue(input('a'))
    during.push(!done)
  }
  await round
  assert.equal(pruned, 3000)
  assert.ok(during.filter(Boolean).length >= 3, `enqueues waited for the whole round: ${JSON.stringify(during)}`)
  assert.equal((await store.get(kept))?.status, 'queued')
  assert.equal(await store.queuedTotal(), 1 + during.length)
  const applied = (await store.totals()).find((t) => t.status === 'applied')
  assert.deepEqual([applied?.current, applied?.reached], [0, 3000])
  await pruner.stop()
}

describe('retention loop', () => {
  it('SQLite: prunes every old finished patch in batches while enqueues go on between them', async () => {
    const store = await openSqliteStore({ file: ':memory:' })
    try {
      await interleaves(store)
    } finally {
      await store.close()
    }
  })

  it('SQLite: a new file uses incremental auto-vacuum, and reclaim gives pruned pages back to the filesystem', async () => {
    const file = join(tempDir('gr-vacuum-'), 'store.db')
    const store = await openSqliteStore({ file })
    try {
      await store.fillHistory!({ target: 'a', count: 4000, status: 'applied', at: 0, payload: JSON.stringify({ pad: 'x'.repeat(2000) }) })
      const full = statSync(file).size + statSync(`${file}-wal`).size
      while ((await store.prune({ finishedBefore: 1, limit: 1000 })) > 0);
      assert.ok((await store.reclaim!(1_000_000)) > 1000, 'pages given back')
      const db = new Database(file, { readonly: true })
      assert.equal(db.pragma('auto_vacuum', { simple: true }), 2)
      assert.equal(db.pragma('freelist_count', { simple: true }), 0)
      db.close()
      await store.close()
      assert.ok(statSync(file).size < full / 4, `file ${statSync(file).size} bytes after pruning, ${full} before`)
    } finally {
      await store.close()
    }
  })

  it('PostgreSQL: the same', { skip: SKIP }, async () => {
    const store = await openTestStore()
    try {
      await interleaves(store)
    } finally {
      await store.close()
    }
  })

  it('GHOST_RETENTION_DAYS sets the age; 0 keeps everything; the default is 30 days', () => {
    assert.equal(loadConfig({}, []).retentionDays, 30)
    assert.equal(loadConfig({ GHOST_RETENTION_DAYS: '7' }, []).retentionDays, 7)
    assert.equal(loadConfig({ GHOST_RETENTION_DAYS: '0' }, []).retentionDays, 0)
    assert.throws(() => loadConfig({ GHOST_RETENTION_DAYS: '-1' }, []), /GHOST_RETENTION_DAYS/)
  })
})
