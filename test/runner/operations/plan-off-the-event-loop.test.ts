import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp } from '../../../src/app.js'
import { defineConfig } from '../../../src/config.js'
import type { Operation } from '../../../src/schemas/patch.js'
import type { PatchRecord } from '../../../src/schemas/record.js'
import { commitCount, makeWorkspace, status, tempDir, treeState, workspace } from '../../helpers/git.js'

const TOKEN = 'plan-token-0123456789abcdef'
const BUDGET_MS = 2000

interface Answer {
  sent: number
  done: number
  status: number
}

describe('planning runs off the HTTP event loop', () => {
  it('199 catastrophic regexes: /health/ready answers 200 all through the planning, which stops at its budget with PLAN_TIMEOUT', async () => {
    // Each operation backtracks for 40–100 ms (22 `a`s, Node 24 to Node 20) and then matches the
    // `!`: no single regex reaches its own 500 ms limit, the 199 of them run for 8 s or more,
    // well past the budget. With 18 `a`s a fast machine ran them all inside it.
    const root = makeWorkspace({ 'slow.txt': `${'a'.repeat(22)}!\n` })
    const config = defineConfig({
      dataDir: tempDir('gr-data-'),
      port: 0,
      logLevel: 'silent',
      apiTokens: [TOKEN],
      drainDelayMs: 0,
      workspaces: { default: workspace(root) },
      runner: { leaseMs: 30_000, heartbeatMs: 200, pollMs: 50, maxAttempts: 1, concurrency: 1 },
      limits: { planBudgetMs: BUDGET_MS },
    })
    const app = await buildApp(config, { runner: true })
    const before = treeState(root)
    const commits = commitCount(root)
    try {
      await app.listen({ host: '127.0.0.1', port: 0 })
      const { port } = app.server.address() as { port: number }
      const url = `http://127.0.0.1:${port}`
      while ((await fetch(`${url}/health/ready`)).status !== 200) await new Promise((r) => setTimeout(r, 50))

      const operations: Operation[] = Array.from({ length: 199 }, () => ({ op: 'replace', path: 'slow.txt', find: '(a+)+b|!', replace: '!', regex: true }))
      const res = await fetch(`${url}/webhook`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ target: 'default', operations }),
      })
      assert.equal(res.status, 202, await res.clone().text())
      const { id } = (await res.json()) as { id: string }

      // One readiness request after another until the patch is settled.
      const answers: Answer[] = []
      let record: PatchRecord | null = null
      for (;;) {
        const sent = Date.now()
        // 0: no answer at all (the connection was dropped).
        const code = await fetch(`${url}/health/ready`).then(async (r) => (await r.arrayBuffer(), r.status), () => 0)
        answers.push({ sent, done: Date.now(), status: code })
        record = await app.store.get(id)
        if (record !== null && !['queued', 'running'].includes(record.status)) break
      }
      assert.equal(record.status, 'rejected', JSON.stringify(record.error))
      assert.equal(record.error?.code, 'PLAN_TIMEOUT', record.error?.message)
      assert.deepEqual(treeState(root), before)
      assert.equal(status(root), '')
      assert.equal(commitCount(root), commits)

      assert.deepEqual(answers.filter((a) => a.status !== 200), [], 'every readiness answer is 200')
      // Stopped at its budget, the planning covered at least the budget before the patch was
      // settled: readiness requests sent and answered within its first half were served while
      // the patch was being planned.
      const finished = Date.parse(record.finished_at!)
      const from = finished - BUDGET_MS
      const to = finished - BUDGET_MS / 2
      const during = answers.filter((a) => a.sent >= from && a.done <= to)
      assert.ok(during.length > 0, `no readiness request was both sent and answered while the patch was planned (${answers.length} answers in all)`)
    } finally {
      await app.close()
    }
  })
})
