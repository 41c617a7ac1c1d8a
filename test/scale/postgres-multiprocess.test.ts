// The scale-out acceptance test: 2 gateways and 3 runners on one PostgreSQL schema, 3 targets,
// each runner with its own clone of each target's bare repository. Patches are posted to both
// gateways at once while one runner is SIGKILLed mid-patch and one gateway restarts. Every
// acknowledged patch must land exactly once, in enqueue order within its target.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { git, tempDir } from '../helpers/git.js'
import { spawnService, serviceToken, type ServiceProcess } from '../process.js'
import { DATABASE_URL, SKIP, admin, freshSchema } from '../store/postgres-fixtures.js'
import { SEED, bareRepo, runnerMachine, startWork, stop, type WorkProcess } from './cluster.js'

const TARGETS = ['alpha', 'beta', 'gamma']
// `npm run soak` multiplies the work (GHOST_SOAK_FACTOR); `npm test` runs it once.
const SOAK = Number(process.env.GHOST_SOAK_FACTOR ?? 1)
const PATCHES = Number(process.env.SCALE_PATCHES ?? 300 * SOAK)
const CLIENTS = 12
// Short leases so the survivors take the killed runner's lanes over within seconds.
const RUNNER = { leaseMs: 3000, heartbeatMs: 300, pollMs: 100, maxAttempts: 3, concurrency: 3 }

// The whole test, start to stop, on a loaded 2-core machine; every wait shares it.
const BUDGET_MS = 160_000 * SOAK

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, deadline: number, diag: () => Promise<string>): Promise<T> {
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${await diag()}`)
    await sleep(100)
  }
}

/** Patch n appends the line `n` to log.txt of its target: the file's lines are the landing order. */
const payload = (n: number) => ({
  target: TARGETS[n % TARGETS.length],
  description: `line ${n}`,
  operations: [{ op: 'replace', path: 'log.txt', find: '\\n$', replace: `\n${n}\n`, regex: true, count: 1 }],
})

interface Ack {
  n: number
  id: string
  target: string
  gateway: number
  /** Whether the gateway that answered had been restarted by then. */
  afterRestart: boolean
}

describe('PostgreSQL scale-out: 2 gateways, 3 runners, 3 targets', { skip: SKIP }, () => {
  it('lands every acknowledged patch exactly once, in enqueue order, through a runner SIGKILL and a gateway restart', { timeout: BUDGET_MS + 15_000 }, async (t) => {
    const started = Date.now()
    const schema = freshSchema()
    const db = await admin()
    const s = `"${schema}"`
    const dir = tempDir('gr-scale-')
    const token = serviceToken()
    const common = { DATABASE_URL: DATABASE_URL!, GHOST_DATABASE_SCHEMA: schema }

    const remotes = Object.fromEntries(TARGETS.map((target) => [target, bareRepo(dir, target)]))
    const machines = ['r0', 'r1', 'r2'].map((name) => runnerMachine(dir, name, remotes, common, RUNNER, 2000))
    // Gateways only need the workspace names (to validate targets) and limits for this burst.
    const gatewayConfig = path.join(dir, 'gateway.json')
    writeFileSync(
      gatewayConfig,
      JSON.stringify({ workspaces: Object.fromEntries(TARGETS.map((x) => [x, { path: path.join(dir, 'gw', x) }])), limits: { ratePerMinute: 100_000 } }),
    )
    const gatewayEnv = (n: number) => ({ ...common, GHOST_API_TOKENS: token, GHOST_CONFIG: gatewayConfig, GHOST_DATA_DIR: path.join(dir, `gw-data-${n}`), GHOST_DRAIN_DELAY_MS: '300' })

    const gateways: ServiceProcess[] = []
    const workers: WorkProcess[] = []
    const everyProcess = () => [...gateways.map((g) => g.child), ...workers.map((w) => w.child)]
    const deadline = started + BUDGET_MS
    const logs = async () => {
      const counts = await db.query(`SELECT target, status, count(*) AS n FROM ${s}.patches GROUP BY target, status ORDER BY target, status`).catch((err: Error) => ({ rows: [err.message] }))
      return `${JSON.stringify(counts.rows)}\n${tails()}`
    }
    const tails = () => [...gateways.map((g, i) => `--- gateway ${i}\n${g.output().slice(-3000)}`), ...workers.map((w, i) => `--- runner ${i}\n${w.output().slice(-3000)}`)].join('\n')
    try {
      // The first gateway migrates the schema; everything else starts on it at once.
      gateways.push(await spawnService('serve', gatewayEnv(0), { timeoutMs: 60_000 }))
      const [second, ...runners] = await Promise.all([spawnService('serve', gatewayEnv(1), { timeoutMs: 60_000 }), ...machines.map((m) => startWork(m.env, 60_000))])
      gateways.push(second!)
      workers.push(...runners)
      const urls = gateways.map((g) => g.url)
      t.diagnostic(`started in ${Date.now() - started} ms`)

      // Clients: each patch alternates between the gateways, and on a connection error tries the other one.
      let gatewayDown!: () => void
      const down = new Promise<void>((resolve) => (gatewayDown = resolve))
      let restarted: Promise<void> = new Promise(() => {})
      let restartDone = false
      let connectionErrors = 0
      const acks: Ack[] = []
      let next = 0
      const post = async (n: number): Promise<void> => {
        // The second third is sent while gateway 1 is down, the last once it is back and ready.
        if (n >= PATCHES / 3) await down
        if (n >= (PATCHES * 2) / 3) await restarted
        const body = JSON.stringify(payload(n))
        for (let attempt = 0; attempt < 40; attempt++) {
          const gateway = (n + attempt) % 2
          const afterRestart = restartDone
          let res: Response
          try {
            res = await fetch(`${urls[gateway]}/webhook`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': `scale-${schema}-${n}` },
              body,
            })
          } catch {
            connectionErrors++
            await sleep(20)
            continue
          }
          if (res.status === 202 || res.status === 200) {
            const { id, target } = (await res.json()) as { id: string; target: string }
            acks.push({ n, id, target, gateway, afterRestart })
            return
          }
          const text = await res.text()
          if (res.status === 503 || res.status === 429) {
            await sleep(100)
            continue
          }
          throw new Error(`POST /webhook for patch ${n}: ${res.status} ${text}`)
        }
        throw new Error(`patch ${n} was never acknowledged`)
      }
      const clients = Array.from({ length: CLIENTS }, async () => {
        while (next < PATCHES) await post(next++)
      })

      // The restart: SIGTERM gateway 1 once a third is acknowledged, then start it again on its port.
      const restart = (async () => {
        await until('a third of the patches acknowledged', async () => acks.length >= PATCHES / 3, deadline, logs)
        const code = await stop(gateways[1]!.child, 'SIGTERM')
        assert.equal(code, 0, `gateway 1 did not drain and exit cleanly:\n${gateways[1]!.output().slice(-3000)}`)
        gatewayDown()
        gateways[1] = await spawnService('serve', gatewayEnv(1), { port: gateways[1]!.port, timeoutMs: 60_000 })
        // As a load balancer would: traffic returns once readiness says so.
        await until('the restarted gateway to be ready', async () => (await fetch(`${urls[1]}/health/ready`)).status === 200, deadline, logs)
        restartDone = true
      })()
      restarted = restart

      // The kill: once a quarter has landed, freeze a runner that holds a lease, then SIGKILL it.
      // Which runner is found each time: a fast cluster may leave any one of them idle.
      const owners = async () =>
        (
          await db.query<{ pid: number; patch: string }>(
            `SELECT r.pid, p.id AS patch FROM ${s}.patches p JOIN ${s}.runners r ON r.id = p.lease_owner WHERE p.status = 'running'`,
          )
        ).rows
      const kill = (async (): Promise<{ index: number; pid: number; held: string[] }> => {
        const applied = async () => Number((await db.query(`SELECT count(*) AS n FROM ${s}.patches WHERE status = 'applied'`)).rows[0].n)
        await until('a quarter of the patches applied', async () => (await applied()) >= PATCHES / 4, deadline, logs)
        for (let tries = 0; ; tries++) {
          const holding = await owners()
          const candidates = workers.flatMap((w, i) => (holding.some((h) => h.pid === w.child.pid) ? [i] : []))
          const index = candidates[Math.floor(Math.random() * candidates.length)] ?? -1
          if (index >= 0) {
            const victim = workers[index]!.child
            victim.kill('SIGSTOP')
            // A statement already sent may still commit: give it time, then read what the frozen runner holds.
            await sleep(150)
            const held = (await owners()).filter((h) => h.pid === victim.pid).map((h) => h.patch)
            if (held.length > 0) {
              await stop(victim, 'SIGKILL')
              return { index, pid: victim.pid!, held }
            }
            victim.kill('SIGCONT')
          }
          if (tries > 200) throw new Error('no runner was caught holding a lease')
          await sleep(30 + Math.floor(Math.random() * 60))
        }
      })()

      // Together, so that a failing restart or kill ends the test instead of leaving clients waiting.
      const [, , killed] = await Promise.all([Promise.all(clients), restart, kill])
      const interrupted = killed.held
      t.diagnostic(`posted and acknowledged ${acks.length} patches after ${Date.now() - started} ms; ${connectionErrors} connection errors retried; runner ${killed.index} killed holding ${interrupted.join(', ')}`)

      // The survivors take the killed runner's patches over once its leases expire; then the machine comes back.
      await until(
        "the killed runner's patches to settle",
        async () => (await db.query(`SELECT 1 FROM ${s}.patches WHERE id = ANY ($1) AND status IN ('queued', 'running')`, [interrupted])).rows.length === 0,
        deadline,
        logs,
      )
      workers[killed.index] = await startWork(machines[killed.index]!.env)

      await until(
        'every patch to reach a final status',
        async () => Number((await db.query(`SELECT count(*) AS n FROM ${s}.patches WHERE status IN ('queued', 'running')`)).rows[0].n) === 0,
        deadline,
        logs,
      )
      t.diagnostic(`all final after ${Date.now() - started} ms`)

      // Every patch acknowledged once (a retried POST answered with the same id), each as sent.
      assert.equal(acks.length, PATCHES)
      assert.equal(new Set(acks.map((a) => a.id)).size, PATCHES, 'two patches got one id')
      assert.equal(new Set(acks.map((a) => a.n)).size, PATCHES)
      for (const a of acks) assert.equal(a.target, payload(a.n).target)
      assert.ok(connectionErrors > 0, 'no request met the restarting gateway: the restart proved nothing')
      assert.ok(acks.some((a) => a.gateway === 1 && a.afterRestart), 'the restarted gateway took no traffic')
      assert.ok(acks.some((a) => a.gateway === 0) && acks.some((a) => a.gateway === 1 && !a.afterRestart))

      const byId = new Map(acks.map((a) => [a.id, a]))
      for (const target of TARGETS) {
        // Enqueue order as the store tells it: GET /patches lists newest first.
        const listed: { id: string; status: string }[] = []
        let cursor: string | null = null
        do {
          const q = new URLSearchParams({ target, limit: '100', ...(cursor ? { cursor } : {}) })
          const res = await fetch(`${urls[0]}/patches?${q}`, { headers: { authorization: `Bearer ${token}` } })
          assert.equal(res.status, 200)
          const page = (await res.json()) as { items: { id: string; status: string }[]; next_cursor: string | null }
          listed.push(...page.items)
          cursor = page.next_cursor
        } while (cursor !== null)
        const order = listed.reverse().map((p) => p.id)
        const acked = acks.filter((a) => a.target === target).map((a) => a.id)
        assert.deepEqual([...order].sort(), [...acked].sort(), `${target}: the store holds other patches than were acknowledged`)
        const notApplied = listed.filter((p) => p.status !== 'applied')
        assert.deepEqual(notApplied, [], `${target}: not applied`)
        // The lane's own numbering agrees with the list order.
        const lane = await db.query<{ id: string }>(`SELECT id FROM ${s}.patches WHERE target = $1 ORDER BY lane_seq`, [target])
        assert.deepEqual(lane.rows.map((r) => r.id), order, `${target}: list order differs from lane order`)

        // The remote's branch: one commit per patch, carrying its Patch-Id, in enqueue order.
        const remote = remotes[target]!
        const log = git(remote, 'log', '--reverse', '--format=%H%x09%(trailers:key=Patch-Id,valueonly,separator=%x2C)', 'main')
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split('\t') as [string, string])
        assert.equal(log[0]![1], '', 'the seed commit comes first')
        const landed = log.slice(1)
        assert.deepEqual(landed.map(([, id]) => id), order, `${target}: commit order on the remote differs from enqueue order`)
        const commits = await db.query<{ id: string; commit: string }>(`SELECT id, result->>'commit' AS commit FROM ${s}.patches WHERE target = $1`, [target])
        const recorded = new Map(commits.rows.map((r) => [r.id, r.commit]))
        for (const [sha, id] of landed) assert.equal(recorded.get(id), sha, `${target}: ${id} records another commit than the remote holds`)
        // The file's lines tell the same story from the content side.
        const lines = order.map((id) => `${byId.get(id)!.n}\n`).join('')
        assert.equal(git(remote, 'show', 'main:log.txt'), SEED + lines)
        git(remote, 'fsck', '--strict', '--no-progress')
      }

      // The killed runner's patches were taken over after their leases expired, and landed once.
      const killedIds = (await db.query<{ id: string }>(`SELECT id FROM ${s}.runners WHERE pid = $1`, [killed.pid])).rows.map((r) => r.id)
      for (const id of interrupted) {
        const res = await fetch(`${urls[1]}/patches/${id}`, { headers: { authorization: `Bearer ${token}` } })
        const record = (await res.json()) as { status: string; events: { reason: string; detail: string | null }[] }
        assert.equal(record.status, 'applied')
        assert.ok(record.events.some((e) => e.reason === 'lease_expired'), `${id}: ${record.events.map((e) => e.reason).join(',')}`)
        const lastClaim = record.events.filter((e) => e.reason === 'claimed').at(-1)
        assert.ok(lastClaim && !killedIds.includes(lastClaim.detail ?? ''), `${id} was last claimed by the killed runner`)
      }
      const retried = await db.query<{ reason: string; n: string }>(
        `SELECT reason, count(*) AS n FROM ${s}.events WHERE reason IN ('lease_expired', 'push_rejected', 'workspace_busy') GROUP BY reason`,
      )
      const timing = await db.query(
        `SELECT round(avg(extract(epoch FROM finished_at - started_at) * 1000)) AS run_ms, round(avg((result->'durations_ms'->>'commit')::float)) AS commit_ms FROM ${s}.patches`,
      )
      t.diagnostic(`releases and expiries: ${JSON.stringify(retried.rows)}; per patch ${JSON.stringify(timing.rows[0])}; total ${Date.now() - started} ms`)

      // Everything stops cleanly.
      for (const w of workers) assert.equal(await stop(w.child, 'SIGTERM'), 0, w.output().slice(-2000))
      for (const g of gateways) assert.equal(await stop(g.child, 'SIGTERM'), 0, g.output().slice(-2000))
    } finally {
      await Promise.all(everyProcess().map((c) => stop(c, 'SIGKILL').catch(() => null)))
    }
  })
})
