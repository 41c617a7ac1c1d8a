import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'
import { commitsFor, makeWorkspace, tempDir } from '../helpers/git.js'
import { kill, serviceToken, spawnService } from '../helpers/process.js'

const CLIENTS = 24
const REQUESTS = 1200
const QUEUE_CAP = 15

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024

it('a flood beyond the queue cap gets 503 QUEUE_FULL or 429 with Retry-After, memory stays bounded, health answers, and every accepted patch is applied', { timeout: 180_000 }, async (t) => {
  const root = makeWorkspace({ 'README.md': '# demo\n' })
  const dataDir = tempDir('gr-flood-')
  const configFile = path.join(dataDir, 'config.json')
  writeFileSync(configFile, JSON.stringify({
    workspaces: { default: { path: root, branch: 'main' } },
    limits: { queueDepth: QUEUE_CAP, ratePerMinute: 600 },
    runner: { concurrency: 1, pollMs: 50, heartbeatMs: 200, leaseMs: 10_000 },
  }))
  const token = serviceToken()
  const svc = await spawnService('start', { GHOST_DATA_DIR: dataDir, GHOST_CONFIG: configFile, GHOST_API_TOKENS: token }, { timeoutMs: 30_000 })
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  try {
    const pid = svc.child.pid!
    // Warm up, then take the baseline.
    for (let i = 0; i < 3; i++) await fetch(`${svc.url}/health`)
    const baseline = rssMb(pid)
    let peak = baseline
    let flooding = true
    const sampler = (async () => {
      while (flooding) {
        peak = Math.max(peak, rssMb(pid))
        await new Promise((r) => setTimeout(r, 100))
      }
    })()
    // Health keeps answering, promptly, all through the flood.
    let slowestHealthMs = 0
    let healthAnswers = 0
    const prober = (async () => {
      while (flooding) {
        const started = Date.now()
        // Answering is the promise; on a starved machine liveness may say the loop lags (503).
        const live = await fetch(`${svc.url}/health/live`)
        assert.ok(live.status === 200 || live.status === 503, `/health/live ${live.status}`)
        const health = await fetch(`${svc.url}/health`)
        assert.ok(health.status === 200 || health.status === 503, `/health ${health.status}`)
        await health.text()
        slowestHealthMs = Math.max(slowestHealthMs, Date.now() - started)
        healthAnswers++
        await new Promise((r) => setTimeout(r, 100))
      }
    })()

    const accepted: string[] = []
    const statuses = new Map<string, number>()
    const unexpected: string[] = []
    let sent = 0
    const big = 'x'.repeat(64 * 1024)
    const client = async () => {
      while (sent < REQUESTS) {
        const n = sent++
        const res = await fetch(`${svc.url}/webhook`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ target: 'default', description: `flood ${n}`, operations: [{ op: 'write', path: `f/${n}.txt`, contents: `${n}\n${big}` }] }),
        })
        const body = (await res.json()) as { id?: string; code?: string }
        const key = `${res.status} ${body.code ?? ''}`.trim()
        statuses.set(key, (statuses.get(key) ?? 0) + 1)
        if (res.status === 202) accepted.push(body.id!)
        else if ((res.status === 503 && body.code === 'QUEUE_FULL') || (res.status === 429 && body.code === 'RATE_LIMITED')) {
          if (!(Number(res.headers.get('retry-after')) > 0)) unexpected.push(`${key} without Retry-After`)
        } else unexpected.push(key)
      }
    }
    await Promise.all(Array.from({ length: CLIENTS }, client))
    flooding = false
    await Promise.all([sampler, prober])
    t.diagnostic(`statuses ${JSON.stringify(Object.fromEntries(statuses))}; rss ${baseline.toFixed(0)} → peak ${peak.toFixed(0)} MiB; slowest health ${slowestHealthMs} ms over ${healthAnswers} probes`)

    assert.deepEqual(unexpected, [], 'every refusal is a coded 503/429 with Retry-After')
    assert.ok((statuses.get('503 QUEUE_FULL') ?? 0) > 0, 'the flood went beyond the queue cap')
    assert.ok((statuses.get('429 RATE_LIMITED') ?? 0) > 0, 'the flood went beyond the client rate')
    assert.ok(accepted.length >= QUEUE_CAP, `${accepted.length} accepted`)
    assert.ok(peak - baseline < 150, `RSS grew ${Math.round(peak - baseline)} MiB during the flood`)
    assert.ok(healthAnswers >= 3 && slowestHealthMs < 5000, `health answered ${healthAnswers} times, slowest ${slowestHealthMs} ms`)
    // A refusal by design is one warn line without a stack, not an error: the flood logs none.
    const logged = svc.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; code?: string; err?: unknown })
    assert.deepEqual(logged.filter((l) => l.level >= 50).map((l) => l.msg), [], 'no error lines during the flood')
    const queueFull = logged.filter((l) => l.code === 'QUEUE_FULL')
    assert.equal(queueFull.length, statuses.get('503 QUEUE_FULL'), 'one line per QUEUE_FULL')
    assert.ok(queueFull.every((l) => l.level === 40 && l.err === undefined), 'QUEUE_FULL at warn, without a stack')

    // Every accepted patch is applied, once.
    const deadline = Date.now() + 120_000
    const pending = new Set(accepted)
    while (pending.size > 0) {
      assert.ok(Date.now() < deadline, `${pending.size} accepted patches never applied`)
      for (const id of [...pending]) {
        const res = await fetch(`${svc.url}/patches/${id}`, { headers })
        const rec = (await res.json()) as { status: string; error?: unknown }
        if (rec.status === 'applied') pending.delete(id)
        else assert.ok(rec.status === 'queued' || rec.status === 'running', `${id} ${rec.status} ${JSON.stringify(rec.error)}`)
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 250))
    }
    for (const id of accepted) assert.equal(commitsFor(root, id).length, 1, `${id} commits`)
  } finally {
    await kill(svc.child)
  }
})
