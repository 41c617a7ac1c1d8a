import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { input } from './inputs.js'
import { RESULT, SKIP, admin, appName, freshSchema, openTestStore, recorder, terminateBackends, until } from './postgres-fixtures.js'

describe('postgres store resilience', { skip: SKIP }, () => {
  it('wakes subscribers of every instance on the schema when a patch is queued, and only those', async () => {
    const schema = freshSchema()
    const runnerSide = await openTestStore(schema)
    const gateway = await openTestStore(schema)
    const elsewhere = await openTestStore()
    try {
      const heard: (string | null)[] = []
      const unsubscribe = runnerSide.onPatchQueued((target) => heard.push(target))
      // The first event (null) says the connection listens: anything queued before it may have been missed.
      await until(() => heard.length > 0, 'the listening connection')
      assert.deepEqual([...heard], [null])
      assert.equal(runnerSide.listening, true)

      await elsewhere.enqueue(input('other'))
      const started = performance.now()
      await gateway.enqueue(input('web'))
      await until(() => heard.length > 1, 'a notification')
      const latency = performance.now() - started
      assert.deepEqual([...heard], [null, 'web'], 'one wake-up, none from the other schema')
      assert.ok(latency < 1000, `woken after ${Math.round(latency)} ms`)

      // Targets queued while a NOTIFY is in flight ride on the next one, once each.
      await Promise.all([gateway.enqueue(input('api')), gateway.enqueue(input('api')), gateway.enqueue(input('db'))])
      await until(() => heard.includes('api') && heard.includes('db'), 'the batch notifications')
      await new Promise((r) => setTimeout(r, 100))
      assert.ok(heard.length <= 5, `${heard.length - 2} notifications for three enqueues`)
      const c = await runnerSide.claim('r', { targets: ['db'], leaseMs: 1000 })
      assert.equal(c?.record.target, 'db', 'the notified patch is committed and claimable')

      unsubscribe()
      await until(() => !runnerSide.listening, 'the listener to stop')
      const count = heard.length
      await gateway.enqueue(input('web'))
      await new Promise((r) => setTimeout(r, 100))
      assert.equal(heard.length, count, 'nothing after unsubscribing')
    } finally {
      await runnerSide.close()
      await gateway.close()
      await elsewhere.close()
    }
  })

  it('re-listens after its connection is killed and tells subscribers to look everywhere', async () => {
    const schema = freshSchema()
    const rec = recorder()
    const store = await openTestStore(schema, { logger: rec.logger })
    const db = await admin()
    try {
      const heard: (string | null)[] = []
      store.onPatchQueued((target) => heard.push(target))
      await until(() => store.listening, 'the listening connection')
      assert.equal(await terminateBackends(db, schema, `query ILIKE 'LISTEN%'`), 1)
      await until(() => heard.length >= 2, 'the reconnect')
      assert.deepEqual([...heard], [null, null])
      assert.ok(rec.lines.some((l) => l.level === 'warn' && l.msg?.includes('notification connection lost')))
      await store.enqueue(input('web'))
      await until(() => heard.includes('web'), 'a notification on the new connection')
    } finally {
      await store.close()
    }
  })

  it('keeps the enqueue connection through a lull, and replaces it when the server ends it while idle', async () => {
    const schema = freshSchema()
    const store = await openTestStore(schema)
    const db = await admin()
    // The enqueue connection is the one whose last statement numbered a lane.
    const enqueuer = async () =>
      (await db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE '%lane_tails%'`, [appName(schema)])).rows.map((r) => r.pid)
    try {
      await store.enqueue(input('lull'))
      const [first] = await enqueuer()
      assert.ok(first, 'an enqueue connection')
      // Longer than pg's default idle close (10 s), which made every enqueue after a pause open a
      // connection and plan its statement again.
      await new Promise((r) => setTimeout(r, 10_500))
      assert.equal((await store.enqueue(input('lull'))).outcome, 'created')
      assert.deepEqual(await enqueuer(), [first], 'the same connection served both')

      assert.equal(await terminateBackends(db, schema, `pid = ${first}`), 1)
      await until(async () => !(await enqueuer()).includes(first), 'the backend to end')
      const after = await store.enqueue(input('lull'))
      assert.equal(after.outcome, 'created')
      assert.ok(await store.get(after.record.id))
      const [second] = await enqueuer()
      assert.ok(second !== undefined && second !== first, 'a new connection replaced the one ended')
    } finally {
      await store.close()
    }
  })

  it('recovers when every connection is terminated mid-traffic: errors are thrown, then operations succeed again', async () => {
    const schema = freshSchema()
    const rec = recorder()
    const store = await openTestStore(schema, { poolSize: 6, logger: rec.logger })
    const db = await admin()
    const created = new Set<string>()
    const failures: unknown[] = []
    let ops = 0
    let running = true
    try {
      store.onPatchQueued(() => undefined)
      const traffic = Array.from({ length: 6 }, async (_, i) => {
        while (running) {
          try {
            const res = await store.enqueue(input(`t${i % 3}`))
            created.add(res.record.id)
            const c = await store.claim(`r${i}`, { targets: [`t${i % 3}`], leaseMs: 60_000 })
            if (c) await store.complete(c.record.id, c.token, RESULT)
            await store.list({ limit: 5 })
            ops += 1
          } catch (error) {
            failures.push(error)
          }
        }
      })
      let killed = 0
      for (let round = 0; round < 3; round++) {
        const before = ops
        await until(() => ops >= before + 5, 'traffic before the kill')
        killed += await terminateBackends(db, schema)
      }
      const afterKills = ops
      await until(() => ops >= afterKills + 20, 'traffic after the kills', 10_000)
      running = false
      await Promise.all(traffic)

      assert.ok(killed >= 6, `terminated ${killed} backends`)
      for (const f of failures) assert.ok(f instanceof Error, 'failures surface as thrown errors')
      // Recovered: a clean round of every kind of operation, each must succeed.
      const fresh = await store.enqueue(input('after'))
      assert.equal(fresh.outcome, 'created')
      const c = await store.claim('r', { targets: ['after'], leaseMs: 1000 })
      assert.equal(c?.record.id, fresh.record.id)
      assert.equal(await store.complete(fresh.record.id, c.token, RESULT), true)
      await store.ping()
      await store.counts()
      // Nothing acknowledged was lost.
      for (const id of created) assert.ok(await store.get(id), `patch ${id} acknowledged and stored`)
      await until(() => store.listening, 'the listener to come back')
    } finally {
      running = false
      await store.close()
    }
  })
})
