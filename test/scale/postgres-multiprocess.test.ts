// The scale-out acceptance test: 2 gateways and 3 runners on one PostgreSQL schema, 3 targets,
// each runner with its own clone of each target's bare repository. Patches are posted to both
// gateways at once while one runner is SIGKILLed mid-patch and one gateway restarts. Every
// acknowledged patch must land exactly once, in enqueue order within its target.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { tempDir } from '../helpers/git.js'
import { spawnService, serviceToken, type ServiceProcess } from '../helpers/process.js'
import { DATABASE_URL, SKIP, admin, freshSchema, openTestStore } from '../store/postgres-fixtures.js'
import { stop } from './cluster.js'
import {
  BUDGET_MS,
  floodThroughKillAndRestart,
  killAll,
  layOut,
  reportRetries,
  startCluster,
  stopCleanly,
  verifyAcknowledgedOnce,
  verifyLanes,
  verifyTakenOver,
  waitUntilSettled,
} from './scale-out-phases.js'

describe('PostgreSQL scale-out: 2 gateways, 3 runners, 3 targets', { skip: SKIP }, () => {
  it('lands every acknowledged patch exactly once, in enqueue order, through a runner SIGKILL and a gateway restart', { timeout: BUDGET_MS + 15_000 }, async (t) => {
    const cluster = await layOut(Date.now())
    try {
      await startCluster(cluster, t)
      const flooded = await floodThroughKillAndRestart(cluster, t)
      await waitUntilSettled(cluster, flooded.killed, t)
      verifyAcknowledgedOnce(flooded)
      await verifyLanes(cluster, flooded.acks)
      await verifyTakenOver(cluster, flooded.killed)
      await reportRetries(cluster, t)
      await stopCleanly(cluster)
    } finally {
      await killAll(cluster)
    }
  })

  it('two gateways group-committing to one target interleave in one lane: each client\'s order kept, list, lane and claim order agree', { timeout: 120_000 }, async () => {
    const schema = freshSchema()
    const db = await admin()
    const s = `"${schema}"`
    const dir = tempDir('gr-scale-one-')
    const token = serviceToken()
    const config = path.join(dir, 'gateway.json')
    writeFileSync(config, JSON.stringify({ workspaces: { hot: { path: path.join(dir, 'hot') } }, limits: { ratePerMinute: 100_000 } }))
    const env = (n: number) => ({ DATABASE_URL: DATABASE_URL!, GHOST_DATABASE_SCHEMA: schema, GHOST_API_TOKENS: token, GHOST_CONFIG: config, GHOST_DATA_DIR: path.join(dir, `gw-${n}`) })
    const gateways: ServiceProcess[] = []
    try {
      gateways.push(await spawnService('serve', env(0), { timeoutMs: 60_000 }))
      gateways.push(await spawnService('serve', env(1), { timeoutMs: 60_000 }))
      // 16 clients, each posting 20 patches one after another, alternating gateways: each
      // client's patches must sit in the lane in the order it sent them.
      const sent = new Map<string, { client: number; k: number; gateway: number }>()
      await Promise.all(
        Array.from({ length: 16 }, async (_, client) => {
          for (let k = 0; k < 20; k++) {
            const gateway = (client + k) % 2
            const res = await fetch(`${gateways[gateway]!.url}/webhook`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': `one-${client}-${k}` },
              body: JSON.stringify({ target: 'hot', description: `${client}/${k}`, operations: [{ op: 'delete', path: `f${client}-${k}` }] }),
            })
            const text = await res.text()
            assert.equal(res.status, 202, text)
            sent.set((JSON.parse(text) as { id: string }).id, { client, k, gateway })
          }
        }),
      )
      const lane = (await db.query<{ id: string; lane_seq: string; seq: string }>(`SELECT id, lane_seq, seq FROM ${s}.patches WHERE target = 'hot' ORDER BY lane_seq`)).rows
      assert.equal(lane.length, 320)
      const seqs = lane.map((r) => Number(r.seq))
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'seq follows lane_seq')
      const last = new Map<number, number>()
      let switches = 0
      lane.forEach((r, i) => {
        const a = sent.get(r.id)!
        assert.ok((last.get(a.client) ?? -1) < a.k, `client ${a.client}: patch ${a.k} sits before an earlier one`)
        last.set(a.client, a.k)
        if (i > 0 && sent.get(lane[i - 1]!.id)!.gateway !== a.gateway) switches++
      })
      assert.ok(switches > 10, `the gateways barely interleaved (${switches} switches)`)
      const listed: string[] = []
      let cursor: string | null = null
      do {
        const q = new URLSearchParams({ target: 'hot', limit: '100', ...(cursor ? { cursor } : {}) })
        const page = (await (await fetch(`${gateways[1]!.url}/patches?${q}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: { id: string }[]; next_cursor: string | null }
        listed.push(...page.items.map((p) => p.id))
        cursor = page.next_cursor
      } while (cursor !== null)
      assert.deepEqual(listed.reverse(), lane.map((r) => r.id), 'list order is lane order')
      const store = await openTestStore(schema, { migrate: false })
      try {
        for (const r of lane.slice(0, 5)) {
          const c = await store.claim('check', { targets: ['hot'], leaseMs: 60_000 })
          assert.equal(c?.record.id, r.id)
          assert.equal(await store.complete(c.record.id, c.token, { commit: null, tag: null, files: [], checks: [], durations_ms: {} }), true)
        }
      } finally {
        await store.close()
      }
      const metrics = await (await fetch(`${gateways[0]!.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text()
      assert.match(metrics, /ghost_patches_accepted_total\{target="hot"\} 320/)
      assert.match(metrics, /ghost_queue_depth\{target="hot"\} 315/)
    } finally {
      await Promise.all(gateways.map((g) => stop(g.child, 'SIGKILL').catch(() => null)))
    }
  })
})
