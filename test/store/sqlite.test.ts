import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { openSqliteStore, type SqliteStore, type StoreLogger } from '../../src/store/sqlite/index.js'
import type { PatchResult } from '../../src/schemas/record.js'
import { input, plainPatch } from './inputs.js'
import { storeConformance } from './conformance.js'

const dir = mkdtempSync(join(tmpdir(), 'ghost-store-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const nextFile = () => join(dir, `s${++n}`, 'ghost-runner.db')

storeConformance('sqlite', () => openSqliteStore({ file: nextFile() }), { enqueueKeepsCallOrder: true })

const RESULT: PatchResult = { commit: null, tag: null, files: [], checks: [], durations_ms: {} }

function recorder() {
  const lines: { level: string; obj: unknown; msg: string | undefined }[] = []
  const at = (level: string) => (obj: unknown, msg?: string) => void lines.push({ level, obj, msg })
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as StoreLogger
  return { logger, lines }
}

describe('sqlite store', () => {
  it('sets up WAL, the migration ledger and a one-running-per-target index the database enforces', async () => {
    const file = nextFile()
    const store = await openSqliteStore({ file })
    await store.enqueue(input('a'))
    await store.enqueue(input('a'))
    const db = new Database(file)
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
      assert.deepEqual(db.prepare('SELECT version, name FROM schema_migrations').all(), [
        { version: 1, name: 'patch queue' },
        { version: 2, name: 'notification outbox' },
        { version: 3, name: 'credential names on patches' },
        { version: 4, name: 'status totals and list indexes' },
        { version: 5, name: 'retention' },
      ])
      assert.throws(() => db.prepare("UPDATE patches SET status = 'running'").run(), { code: 'SQLITE_CONSTRAINT_UNIQUE' })
      assert.deepEqual(db.prepare('SELECT lane_seq FROM patches ORDER BY lane_seq').pluck().all(), [1, 2])
    } finally {
      db.close()
      await store.close()
    }
  })

  it('commits a burst of enqueues as one transaction, and splits at maxBatch', async () => {
    const one = await openSqliteStore({ file: nextFile() })
    await Promise.all(Array.from({ length: 200 }, () => one.enqueue(input('a'))))
    assert.deepEqual(one.groupCommitStats(), { batches: 1, items: 200, largest: 200 })
    await one.enqueue(input('a'))
    assert.equal(one.groupCommitStats().batches, 2, 'a later turn starts a new batch')
    await one.close()

    const capped = await openSqliteStore({ file: nextFile(), maxBatch: 50 })
    const res = await Promise.all(Array.from({ length: 120 }, () => capped.enqueue(input('a'))))
    assert.equal(res.length, 120)
    assert.deepEqual(capped.groupCommitStats(), { batches: 3, items: 120, largest: 50 })
    assert.equal((await capped.counts())[0]?.queued, 120)
    await capped.close()
  })

  it('fails only the bad item of a batch; its numbers stay a gap the lane goes on past', async () => {
    const file = nextFile()
    const store = await openSqliteStore({ file })
    const first = input('a')
    const dup = input('a')
    const settled = await Promise.allSettled([
      store.enqueue(first),
      store.enqueue({ ...input('a'), id: dup.id }),
      store.enqueue(dup),
      store.enqueue(input('b')),
      store.enqueue({ ...dup, id: input('a').id }),
    ])
    assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
    assert.equal(settled[2]?.status === 'rejected' && (settled[2].reason as { code?: string }).code, 'SQLITE_CONSTRAINT_PRIMARYKEY')
    assert.equal(store.groupCommitStats().batches, 1)
    const later = input('a')
    await store.enqueue(later)
    assert.deepEqual((await store.counts()).map((c) => [c.target, c.queued]), [['a', 4], ['b', 1]])
    // The batch numbered its five items up front; the failed one (lane a's third) left a gap.
    const db = new Database(file, { readonly: true })
    try {
      assert.deepEqual(db.prepare("SELECT lane_seq FROM patches WHERE target = 'a' ORDER BY lane_seq").pluck().all(), [1, 2, 4, 5])
      assert.deepEqual(db.prepare('SELECT seq FROM patches ORDER BY seq').pluck().all(), [1, 2, 4, 5, 6])
    } finally {
      db.close()
    }
    const order: string[] = []
    for (let c = await store.claim('r', { targets: ['a'], leaseMs: 1000 }); c; c = await store.claim('r', { targets: ['a'], leaseMs: 1000 })) {
      order.push(c.record.id)
      await store.complete(c.record.id, c.token, RESULT)
    }
    assert.equal(order.length, 4)
    assert.deepEqual([order[0], order[3]], [first.id, later.id])
    await store.close()
  })

  it('keeps everything across close and reopen', async () => {
    const file = nextFile()
    const first = await openSqliteStore({ file })
    const a1 = (await first.enqueue(input('a', { idempotencyKey: 'k1', bodyHash: 'h1' }))).record
    const a2 = (await first.enqueue(input('a'))).record
    const b1 = (await first.enqueue(input('b'))).record
    const c = await first.claim('r1', { targets: ['a'], leaseMs: 60_000 })
    assert.ok(c)
    const cb = await first.claim('r1', { targets: ['b'], leaseMs: 60_000 })
    assert.ok(cb)
    await first.complete(cb.record.id, cb.token, RESULT)
    await first.runnerHeartbeat({ id: 'r1', host: 'h', pid: 1, started_at: new Date().toISOString(), info: { x: 1 } })
    // Not awaited: close must still commit it.
    const late = first.enqueue(input('b', { patch: plainPatch('b', 'late') }))
    const before = {
      a1: await first.get(a1.id),
      a2: await first.get(a2.id),
      b1: await first.get(b1.id),
      list: await first.list({ limit: 10 }),
      runners: await first.runners(),
    }
    await first.close()
    const lateId = (await late).record.id

    const again = await openSqliteStore({ file })
    assert.deepEqual(await again.get(a1.id), before.a1)
    assert.deepEqual(await again.get(a2.id), before.a2)
    assert.deepEqual(await again.get(b1.id), before.b1)
    assert.equal((await again.get(lateId))?.description, 'late')
    assert.deepEqual((await again.list({ limit: 10 })).items.slice(1), before.list.items)
    assert.deepEqual(await again.runners(), before.runners)
    assert.equal((await again.enqueue(input('a', { idempotencyKey: 'k1', bodyHash: 'h1' }))).outcome, 'duplicate')
    assert.equal(await again.complete(c.record.id, c.token, RESULT), true, 'a lease outlives a restart of the process holding the store')
    const next = await again.claim('r2', { targets: null, leaseMs: 1000 })
    assert.equal(next?.record.id, a2.id)
    assert.ok(next && next.token > cb.token, 'fencing tokens keep increasing across reopen')
    await again.close()
  })

  it('migrates once; a store opened without migrating says what to run', async () => {
    const file = nextFile()
    const rec = recorder()
    const unmigrated = await openSqliteStore({ file, migrate: false, logger: rec.logger })
    await assert.rejects(unmigrated.get('x'), /ghost-runner migrate/)
    await unmigrated.migrate()
    assert.equal(await unmigrated.get('x'), null)
    await unmigrated.close()
    assert.deepEqual(rec.lines.filter((l) => l.msg === 'store migration applied').map((l) => l.obj), [
      { version: 1, migration: 'patch queue' },
      { version: 2, migration: 'notification outbox' },
      { version: 3, migration: 'credential names on patches' },
      { version: 4, migration: 'status totals and list indexes' },
      { version: 5, migration: 'retention' },
    ])
    const rec2 = recorder()
    const reopened = await openSqliteStore({ file, logger: rec2.logger })
    await reopened.migrate()
    assert.equal(rec2.lines.filter((l) => l.msg === 'store migration applied').length, 0)
    await reopened.close()
  })

  it('two store instances on one file never claim the same patch', async () => {
    const file = nextFile()
    const s1 = await openSqliteStore({ file })
    const s2 = await openSqliteStore({ file })
    const byTarget = new Map<string, string[]>()
    for (let i = 0; i < 60; i++) {
      const target = ['a', 'b', 'c'][i % 3] as string
      const rec = (await (i % 2 === 0 ? s1 : s2).enqueue(input(target))).record
      byTarget.set(target, [...(byTarget.get(target) ?? []), rec.id])
    }
    const claims: { id: string; target: string; token: number }[] = []
    const stores: SqliteStore[] = [s1, s2]
    for (let round = 0; round < 200; round++) {
      const got = await Promise.all(stores.flatMap((s) => [s.claim('r1', { targets: null, leaseMs: 60_000 }), s.claim('r2', { targets: null, leaseMs: 60_000 })]))
      const live = got.filter((c) => c !== null)
      if (live.length === 0) break
      // Finish through the other instance: the token, not the instance, owns the lease.
      for (const [i, c] of live.entries()) {
        claims.push({ id: c.record.id, target: c.record.target, token: c.token })
        assert.equal(await stores[(i + 1) % 2]?.complete(c.record.id, c.token, RESULT), true)
      }
    }
    assert.equal(claims.length, 60)
    assert.equal(new Set(claims.map((c) => c.id)).size, 60)
    assert.equal(new Set(claims.map((c) => c.token)).size, 60)
    for (const [target, ids] of byTarget) {
      const order = claims.filter((c) => c.target === target).sort((x, y) => x.token - y.token).map((c) => c.id)
      assert.deepEqual(order, ids, `lane ${target} ran in FIFO order`)
    }
    await s1.close()
    await s2.close()
  })

  it('separate processes on one file never claim the same patch and keep each lane in order', async () => {
    const file = nextFile()
    const store = await openSqliteStore({ file })
    const byTarget = new Map<string, string[]>()
    const all = await Promise.all(Array.from({ length: 90 }, (_, i) => store.enqueue(input(['a', 'b', 'c'][i % 3] as string))))
    for (const r of all) byTarget.set(r.record.target, [...(byTarget.get(r.record.target) ?? []), r.record.id])
    const worker = fileURLToPath(new URL('./sqlite-claim-worker.ts', import.meta.url))
    const root = fileURLToPath(new URL('../..', import.meta.url))
    const workers = ['w1', 'w2', 'w3'].map((id) => {
      const child = spawn(process.execPath, ['--import', 'tsx', worker, file, id], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      const ready = new Promise<void>((resolve) =>
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString()
          if (out.startsWith('ready\n')) resolve()
        }),
      )
      child.stderr.on('data', (d: Buffer) => (err += d.toString()))
      const done = new Promise<string>((resolve, reject) => {
        child.on('error', reject)
        child.on('exit', (code) => (code === 0 ? resolve(out.slice('ready\n'.length)) : reject(new Error(`worker ${id} exited ${code}: ${err}`))))
      })
      return { child, ready, done }
    })
    await Promise.all(workers.map((w) => w.ready))
    for (const w of workers) w.child.stdin.end('go\n')
    const outputs = await Promise.all(workers.map((w) => w.done))
    const claims = outputs.flatMap((o) => o.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; target: string; token: number }))
    assert.equal(claims.length, 90)
    assert.equal(new Set(claims.map((c) => c.id)).size, 90)
    assert.equal(new Set(claims.map((c) => c.token)).size, 90)
    for (const [target, ids] of byTarget) {
      assert.deepEqual(claims.filter((c) => c.target === target).sort((x, y) => x.token - y.token).map((c) => c.id), ids)
    }
    assert.ok(outputs.filter((o) => o.length > 0).length >= 2, 'the claims really interleaved across processes')
    assert.equal((await store.list({ limit: 100, status: 'applied' })).items.length, 90)
    await store.close()
  })
})
