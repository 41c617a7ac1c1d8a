import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pg from 'pg'
import type { PostgresStore } from '../../src/store/postgres/index.js'
import { input, plainPatch } from './inputs.js'
import { RESULT, SKIP, admin, freshSchema, openTestStore, recorder } from './postgres-fixtures.js'

describe('postgres store under concurrency', { skip: SKIP }, () => {
  it('four instances migrating one fresh schema at once apply each migration exactly once', async () => {
    const db = await admin()
    for (let round = 0; round < 3; round++) {
      const schema = freshSchema()
      const recs = Array.from({ length: 4 }, () => recorder())
      const stores = await Promise.all(recs.map((r) => openTestStore(schema, { migrate: false, logger: r.logger })))
      try {
        const settled = await Promise.allSettled(stores.map((s) => s.migrate()))
        assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'], JSON.stringify(settled))
        // Each migration applied by exactly one instance; the others found it done.
        const applied = recs.flatMap((r) => r.lines.filter((l) => l.msg === 'store migration applied').map((l) => (l.obj as { version: number }).version))
        const ledger = await db.query(`SELECT version FROM ${pg.escapeIdentifier(schema)}.schema_migrations ORDER BY version`)
        const versions = ledger.rows.map((r: { version: number }) => r.version)
        assert.ok(versions.length >= 2 && versions[0] === 1, JSON.stringify(versions))
        assert.deepEqual([...applied].sort((a, b) => a - b), versions)
        // Every instance works on the result.
        const ids = await Promise.all(stores.map(async (s, i) => (await s.enqueue(input(`t${i}`))).record.id))
        for (const s of stores) assert.equal((await s.counts()).length, 4)
        assert.equal(new Set(ids).size, 4)
      } finally {
        await Promise.all(stores.map((s) => s.close()))
      }
    }
  })

  it('five stores racing to claim from three targets never share a patch or a lane, and keep each lane FIFO', async () => {
    const schema = freshSchema()
    const stores: PostgresStore[] = await Promise.all(Array.from({ length: 5 }, () => openTestStore(schema, { poolSize: 3 })))
    const targets = ['alpha', 'beta', 'gamma']
    const perTarget = 40
    const expected = new Map<string, string[]>(targets.map((t) => [t, []]))
    const claims: { id: string; target: string; token: number; store: number }[] = []
    const running = new Set<string>()
    const violations: string[] = []
    let enqueuing = true
    try {
      // Each target fed by its own gateway (store), while every store's runners claim.
      const feeders = targets.map(async (target, i) => {
        for (let n = 0; n < perTarget; n++) {
          const res = await stores[i]!.enqueue(input(target, { patch: plainPatch(target, `${target}-${n}`) }))
          expected.get(target)!.push(res.record.id)
        }
      })
      const deadline = Date.now() + 30_000
      // Workers record violations instead of throwing, so every one of them stops before the test ends.
      const worker = async (store: PostgresStore, si: number, w: number) => {
        while (Date.now() < deadline) {
          let c
          try {
            c = await store.claim(`s${si}w${w}`, { targets: null, leaseMs: 60_000 })
          } catch (error) {
            violations.push(`claim threw: ${String(error)}`)
            continue
          }
          if (!c) {
            if (!enqueuing && (await store.counts()).every((t) => t.queued === 0 && t.running === 0)) return
            await new Promise((r) => setTimeout(r, 2))
            continue
          }
          if (running.has(c.record.target)) violations.push(`${c.record.target} claimed while running (${c.record.id})`)
          running.add(c.record.target)
          claims.push({ id: c.record.id, target: c.record.target, token: c.token, store: si })
          await new Promise((r) => setTimeout(r, Math.random() * 3))
          // Forget the lane before completing: a new claim on it can only follow the commit.
          running.delete(c.record.target)
          // Completed through another store: the token, not the instance, owns the lease.
          if (!(await stores[(si + 1) % stores.length]!.complete(c.record.id, c.token, RESULT))) violations.push(`complete refused for ${c.record.id}`)
        }
        violations.push(`worker s${si}w${w} still busy at the deadline`)
      }
      const workers = stores.flatMap((store, si) => [0, 1].map((w) => worker(store, si, w)))
      await Promise.all(feeders)
      enqueuing = false
      await Promise.all(workers)

      assert.deepEqual(violations, [])
      assert.equal(claims.length, targets.length * perTarget)
      assert.equal(new Set(claims.map((c) => c.id)).size, claims.length, 'no patch was claimed twice')
      assert.equal(new Set(claims.map((c) => c.token)).size, claims.length, 'every claim got its own token')
      for (const target of targets) {
        const order = claims.filter((c) => c.target === target).sort((x, y) => x.token - y.token).map((c) => c.id)
        assert.deepEqual(order, expected.get(target), `lane ${target} ran in enqueue order`)
      }
      assert.ok(new Set(claims.map((c) => c.store)).size >= 3, 'claims really spread over the stores')
      const applied = await stores[0]!.list({ limit: 1000, status: 'applied' })
      assert.equal(applied.items.length, claims.length)
      for (const r of applied.items) assert.equal(r.attempts, 1)
    } finally {
      await Promise.all(stores.map((s) => s.close()))
    }
  })

  it('a busy lane keeps being claimed while another gateway floods it with enqueues', async () => {
    const schema = freshSchema()
    const gateway = await openTestStore(schema, { poolSize: 6 })
    const runner = await openTestStore(schema, { poolSize: 2 })
    try {
      await gateway.enqueue(input('hot'))
      let flooding = true
      const flood = Array.from({ length: 6 }, async () => {
        while (flooding) await gateway.enqueue(input('hot'))
      })
      // Measured with a backlog: the flood's first batch (new connections, statements prepared
      // on each) lands before the first claim, as it would have on a gateway already running.
      while ((await gateway.queuedTotal()) < 6) await new Promise((r) => setTimeout(r, 5))
      let claimed = 0
      let empty = 0
      const deadline = Date.now() + 1500
      while (Date.now() < deadline) {
        const c = await runner.claim('r', { targets: ['hot'], leaseMs: 60_000 })
        if (!c) {
          empty += 1
          continue
        }
        claimed += 1
        await runner.complete(c.record.id, c.token, RESULT)
      }
      flooding = false
      await Promise.all(flood)
      // An enqueue in flight must not hide the lane from claims (it holds the lane's tail row,
      // not the row claims lock); with a backlog every claim should find work.
      assert.ok(claimed >= 10, `claimed ${claimed}`)
      assert.ok(empty <= claimed / 10, `${empty} empty claims against ${claimed} claimed while the lane had a backlog`)
    } finally {
      await gateway.close()
      await runner.close()
    }
  })
})
