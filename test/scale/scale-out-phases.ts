// The phases of the scale-out acceptance test (postgres-multiprocess.test.ts), in the order it
// runs them: lay the cluster out and start it, flood it with patches while a runner is SIGKILLed
// and a gateway restarted, wait until every patch settles, then check what landed and stop.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { git, tempDir } from '../helpers/git.js'
import { spawnService, serviceToken, type ServiceProcess } from '../helpers/process.js'
import { DATABASE_URL, admin, freshSchema } from '../store/postgres-fixtures.js'
import { SEED, bareRepo, runnerMachine, startWork, stop, type RunnerSpec, type WorkProcess } from './cluster.js'

const TARGETS = ['alpha', 'beta', 'gamma']
// `npm run soak` multiplies the work (GHOST_SOAK_FACTOR); `npm test` runs it once.
const SOAK = Number(process.env.GHOST_SOAK_FACTOR ?? 1)
const PATCHES = Number(process.env.SCALE_PATCHES ?? 300 * SOAK)
const CLIENTS = 12
// Short leases so the survivors take the killed runner's lanes over within seconds.
const RUNNER = { leaseMs: 3000, heartbeatMs: 300, pollMs: 100, maxAttempts: 3, concurrency: 3 }

// The whole test, start to stop, on a loaded 2-core machine; every wait shares it. Alone it
// takes about 120 s; beside the rest of the suite (two files at a time) one run needed over 160.
export const BUDGET_MS = 240_000 * SOAK

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

/** The runner that was SIGKILLed: its index among the workers, its pid, and the patches it held. */
interface Killed {
  index: number
  pid: number
  held: string[]
}

/** What the flood leaves behind for the checks. */
export interface Flooded {
  acks: Ack[]
  connectionErrors: number
  killed: Killed
}

/** The cluster's machines, processes and the shared deadline; the arrays fill as it starts. */
export interface Cluster {
  started: number
  deadline: number
  schema: string
  /** The schema quoted for SQL. */
  s: string
  db: Awaited<ReturnType<typeof admin>>
  token: string
  remotes: Record<string, string>
  machines: RunnerSpec[]
  gatewayEnv: (n: number) => Record<string, string>
  gateways: ServiceProcess[]
  workers: WorkProcess[]
  urls: string[]
}

/** A fresh schema, one bare repository per target, three runner machines and the gateways' config. */
export async function layOut(started: number): Promise<Cluster> {
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
  return { started, deadline: started + BUDGET_MS, schema, s, db, token, remotes, machines, gatewayEnv, gateways: [], workers: [], urls: [] }
}

/** Patch counts by target and status, then the tail of every process's output: what a timeout prints. */
async function logs(c: Cluster): Promise<string> {
  const counts = await c.db.query(`SELECT target, status, count(*) AS n FROM ${c.s}.patches GROUP BY target, status ORDER BY target, status`).catch((err: Error) => ({ rows: [err.message] }))
  const tails = [...c.gateways.map((g, i) => `--- gateway ${i}\n${g.output().slice(-3000)}`), ...c.workers.map((w, i) => `--- runner ${i}\n${w.output().slice(-3000)}`)].join('\n')
  return `${JSON.stringify(counts.rows)}\n${tails}`
}

export async function startCluster(c: Cluster, t: TestContext): Promise<void> {
  // The first gateway migrates the schema; everything else starts on it at once.
  c.gateways.push(await spawnService('serve', c.gatewayEnv(0), { timeoutMs: 60_000 }))
  const [second, ...runners] = await Promise.all([spawnService('serve', c.gatewayEnv(1), { timeoutMs: 60_000 }), ...c.machines.map((m) => startWork(m.env, 60_000))])
  c.gateways.push(second!)
  c.workers.push(...runners)
  c.urls = c.gateways.map((g) => g.url)
  t.diagnostic(`started in ${Date.now() - c.started} ms`)
}

/** What the clients, the restart and the kill share while the flood runs. */
interface Flood {
  acks: Ack[]
  connectionErrors: number
  /** Set once the restarted gateway is ready again. */
  restartDone: boolean
  /** Resolves once gateway 1 has exited. */
  down: Promise<void>
  gatewayDown: () => void
  /** The restart itself, once started; until then a promise that never resolves. */
  restarted: Promise<void>
}

/** Every patch posted by the clients while gateway 1 restarts and a runner holding a lease is SIGKILLed. */
export async function floodThroughKillAndRestart(c: Cluster, t: TestContext): Promise<Flooded> {
  let gatewayDown!: () => void
  const down = new Promise<void>((resolve) => (gatewayDown = resolve))
  const f: Flood = { acks: [], connectionErrors: 0, restartDone: false, down, gatewayDown, restarted: new Promise(() => {}) }
  let next = 0
  const clients = Array.from({ length: CLIENTS }, async () => {
    while (next < PATCHES) await post(c, f, next++)
  })
  const restart = restartGateway(c, f)
  f.restarted = restart
  const kill = killARunnerHoldingALease(c)

  // Together, so that a failing restart or kill ends the test instead of leaving clients waiting.
  const [, , killed] = await Promise.all([Promise.all(clients), restart, kill])
  t.diagnostic(`posted and acknowledged ${f.acks.length} patches after ${Date.now() - c.started} ms; ${f.connectionErrors} connection errors retried; runner ${killed.index} killed holding ${killed.held.join(', ')}`)
  return { acks: f.acks, connectionErrors: f.connectionErrors, killed }
}

// Clients: each patch alternates between the gateways, and on a connection error tries the other one.
async function post(c: Cluster, f: Flood, n: number): Promise<void> {
  // The second third is sent while gateway 1 is down, the last once it is back and ready.
  if (n >= PATCHES / 3) await f.down
  if (n >= (PATCHES * 2) / 3) await f.restarted
  const body = JSON.stringify(payload(n))
  for (let attempt = 0; attempt < 40; attempt++) {
    const gateway = (n + attempt) % 2
    const afterRestart = f.restartDone
    let res: Response
    try {
      res = await fetch(`${c.urls[gateway]}/webhook`, {
        method: 'POST',
        headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', 'idempotency-key': `scale-${c.schema}-${n}` },
        body,
      })
    } catch {
      f.connectionErrors++
      await sleep(20)
      continue
    }
    if (res.status === 202 || res.status === 200) {
      const { id, target } = (await res.json()) as { id: string; target: string }
      f.acks.push({ n, id, target, gateway, afterRestart })
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

// The restart: SIGTERM gateway 1 once a third is acknowledged, then start it again on its port.
async function restartGateway(c: Cluster, f: Flood): Promise<void> {
  await until('a third of the patches acknowledged', async () => f.acks.length >= PATCHES / 3, c.deadline, () => logs(c))
  const code = await stop(c.gateways[1]!.child, 'SIGTERM')
  assert.equal(code, 0, `gateway 1 did not drain and exit cleanly:\n${c.gateways[1]!.output().slice(-3000)}`)
  f.gatewayDown()
  c.gateways[1] = await spawnService('serve', c.gatewayEnv(1), { port: c.gateways[1]!.port, timeoutMs: 60_000 })
  // As a load balancer would: traffic returns once readiness says so.
  await until('the restarted gateway to be ready', async () => (await fetch(`${c.urls[1]}/health/ready`)).status === 200, c.deadline, () => logs(c))
  f.restartDone = true
}

/** The running patches and the pid of the runner holding each one's lease. */
async function owners(c: Cluster) {
  return (
    await c.db.query<{ pid: number; patch: string }>(
      `SELECT r.pid, p.id AS patch FROM ${c.s}.patches p JOIN ${c.s}.runners r ON r.id = p.lease_owner WHERE p.status = 'running'`,
    )
  ).rows
}

// The kill: once a quarter has landed, freeze a runner that holds a lease, then SIGKILL it.
// Which runner is found each time: a fast cluster may leave any one of them idle.
async function killARunnerHoldingALease(c: Cluster): Promise<Killed> {
  const applied = async () => Number((await c.db.query(`SELECT count(*) AS n FROM ${c.s}.patches WHERE status = 'applied'`)).rows[0].n)
  await until('a quarter of the patches applied', async () => (await applied()) >= PATCHES / 4, c.deadline, () => logs(c))
  for (let tries = 0; ; tries++) {
    const holding = await owners(c)
    const candidates = c.workers.flatMap((w, i) => (holding.some((h) => h.pid === w.child.pid) ? [i] : []))
    const index = candidates[Math.floor(Math.random() * candidates.length)] ?? -1
    if (index >= 0) {
      const victim = c.workers[index]!.child
      victim.kill('SIGSTOP')
      // A statement already sent may still commit: give it time, then read what the frozen runner holds.
      await sleep(150)
      const held = (await owners(c)).filter((h) => h.pid === victim.pid).map((h) => h.patch)
      if (held.length > 0) {
        await stop(victim, 'SIGKILL')
        return { index, pid: victim.pid!, held }
      }
      victim.kill('SIGCONT')
    }
    if (tries > 200) throw new Error('no runner was caught holding a lease')
    await sleep(30 + Math.floor(Math.random() * 60))
  }
}

export async function waitUntilSettled(c: Cluster, killed: Killed, t: TestContext): Promise<void> {
  // The survivors take the killed runner's patches over once its leases expire; then the machine comes back.
  await until(
    "the killed runner's patches to settle",
    async () => (await c.db.query(`SELECT 1 FROM ${c.s}.patches WHERE id = ANY ($1) AND status IN ('queued', 'running')`, [killed.held])).rows.length === 0,
    c.deadline,
    () => logs(c),
  )
  c.workers[killed.index] = await startWork(c.machines[killed.index]!.env)

  await until(
    'every patch to reach a final status',
    async () => Number((await c.db.query(`SELECT count(*) AS n FROM ${c.s}.patches WHERE status IN ('queued', 'running')`)).rows[0].n) === 0,
    c.deadline,
    () => logs(c),
  )
  t.diagnostic(`all final after ${Date.now() - c.started} ms`)
}

// Every patch acknowledged once (a retried POST answered with the same id), each as sent.
export function verifyAcknowledgedOnce({ acks, connectionErrors }: Flooded): void {
  assert.equal(acks.length, PATCHES)
  assert.equal(new Set(acks.map((a) => a.id)).size, PATCHES, 'two patches got one id')
  assert.equal(new Set(acks.map((a) => a.n)).size, PATCHES)
  for (const a of acks) assert.equal(a.target, payload(a.n).target)
  assert.ok(connectionErrors > 0, 'no request met the restarting gateway: the restart proved nothing')
  assert.ok(acks.some((a) => a.gateway === 1 && a.afterRestart), 'the restarted gateway took no traffic')
  assert.ok(acks.some((a) => a.gateway === 0) && acks.some((a) => a.gateway === 1 && !a.afterRestart))
}

/** Per target: the store holds exactly the acknowledged patches, all applied, and the remote holds their commits, in enqueue order. */
export async function verifyLanes(c: Cluster, acks: Ack[]): Promise<void> {
  const byId = new Map(acks.map((a) => [a.id, a]))
  for (const target of TARGETS) {
    const order = await verifyLaneOrder(c, target, acks)
    await verifyRemoteCommits(c, target, order, byId)
  }
}

/** A target's patches as GET /patches lists them, oldest first. */
async function listOldestFirst(c: Cluster, target: string): Promise<{ id: string; status: string }[]> {
  // Enqueue order as the store tells it: GET /patches lists newest first.
  const listed: { id: string; status: string }[] = []
  let cursor: string | null = null
  do {
    const q = new URLSearchParams({ target, limit: '100', ...(cursor ? { cursor } : {}) })
    const res = await fetch(`${c.urls[0]}/patches?${q}`, { headers: { authorization: `Bearer ${c.token}` } })
    assert.equal(res.status, 200)
    const page = (await res.json()) as { items: { id: string; status: string }[]; next_cursor: string | null }
    listed.push(...page.items)
    cursor = page.next_cursor
  } while (cursor !== null)
  return listed.reverse()
}

/** The target's ids in enqueue order, once checked against the acknowledgements and the lane's numbering. */
async function verifyLaneOrder(c: Cluster, target: string, acks: Ack[]): Promise<string[]> {
  const listed = await listOldestFirst(c, target)
  const order = listed.map((p) => p.id)
  const acked = acks.filter((a) => a.target === target).map((a) => a.id)
  assert.deepEqual([...order].sort(), [...acked].sort(), `${target}: the store holds other patches than were acknowledged`)
  const notApplied = listed.filter((p) => p.status !== 'applied')
  assert.deepEqual(notApplied, [], `${target}: not applied`)
  // The lane's own numbering agrees with the list order.
  const lane = await c.db.query<{ id: string }>(`SELECT id FROM ${c.s}.patches WHERE target = $1 ORDER BY lane_seq`, [target])
  assert.deepEqual(lane.rows.map((r) => r.id), order, `${target}: list order differs from lane order`)
  return order
}

async function verifyRemoteCommits(c: Cluster, target: string, order: string[], byId: Map<string, Ack>): Promise<void> {
  // The remote's branch: one commit per patch, carrying its Patch-Id, in enqueue order.
  const remote = c.remotes[target]!
  const log = git(remote, 'log', '--reverse', '--format=%H%x09%(trailers:key=Patch-Id,valueonly,separator=%x2C)', 'main')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\t') as [string, string])
  assert.equal(log[0]![1], '', 'the seed commit comes first')
  const landed = log.slice(1)
  assert.deepEqual(landed.map(([, id]) => id), order, `${target}: commit order on the remote differs from enqueue order`)
  const commits = await c.db.query<{ id: string; commit: string }>(`SELECT id, result->>'commit' AS commit FROM ${c.s}.patches WHERE target = $1`, [target])
  const recorded = new Map(commits.rows.map((r) => [r.id, r.commit]))
  for (const [sha, id] of landed) assert.equal(recorded.get(id), sha, `${target}: ${id} records another commit than the remote holds`)
  // The file's lines tell the same story from the content side.
  const lines = order.map((id) => `${byId.get(id)!.n}\n`).join('')
  assert.equal(git(remote, 'show', 'main:log.txt'), SEED + lines)
  git(remote, 'fsck', '--strict', '--no-progress')
}

// The killed runner's patches were taken over after their leases expired, and landed once.
export async function verifyTakenOver(c: Cluster, killed: Killed): Promise<void> {
  const killedIds = (await c.db.query<{ id: string }>(`SELECT id FROM ${c.s}.runners WHERE pid = $1`, [killed.pid])).rows.map((r) => r.id)
  for (const id of killed.held) {
    const res = await fetch(`${c.urls[1]}/patches/${id}`, { headers: { authorization: `Bearer ${c.token}` } })
    const record = (await res.json()) as { status: string; events: { reason: string; detail: string | null }[] }
    assert.equal(record.status, 'applied')
    assert.ok(record.events.some((e) => e.reason === 'lease_expired'), `${id}: ${record.events.map((e) => e.reason).join(',')}`)
    const lastClaim = record.events.filter((e) => e.reason === 'claimed').at(-1)
    assert.ok(lastClaim && !killedIds.includes(lastClaim.detail ?? ''), `${id} was last claimed by the killed runner`)
  }
}

/** Releases, expiries and per-patch timings, for the record. */
export async function reportRetries(c: Cluster, t: TestContext): Promise<void> {
  const retried = await c.db.query<{ reason: string; n: string }>(
    `SELECT reason, count(*) AS n FROM ${c.s}.events WHERE reason IN ('lease_expired', 'push_rejected', 'workspace_busy') GROUP BY reason`,
  )
  const timing = await c.db.query(
    `SELECT round(avg(extract(epoch FROM finished_at - started_at) * 1000)) AS run_ms, round(avg((result->'durations_ms'->>'commit')::float)) AS commit_ms FROM ${c.s}.patches`,
  )
  t.diagnostic(`releases and expiries: ${JSON.stringify(retried.rows)}; per patch ${JSON.stringify(timing.rows[0])}; total ${Date.now() - c.started} ms`)
}

// Everything stops cleanly.
export async function stopCleanly(c: Cluster): Promise<void> {
  for (const w of c.workers) assert.equal(await stop(w.child, 'SIGTERM'), 0, w.output().slice(-2000))
  for (const g of c.gateways) assert.equal(await stop(g.child, 'SIGTERM'), 0, g.output().slice(-2000))
}

/** Whatever still runs, after a failure as after success. */
export async function killAll(c: Cluster): Promise<void> {
  await Promise.all([...c.gateways.map((g) => g.child), ...c.workers.map((w) => w.child)].map((ch) => stop(ch, 'SIGKILL').catch(() => null)))
}
