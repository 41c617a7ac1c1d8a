import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp } from '../../src/app.js'
import { defineConfig } from '../../src/config.js'
import type { PatchRecord } from '../../src/schemas/record.js'
import { commitsFor, git, makeWorkspace, status, tempDir, workspace } from '../helpers/git.js'

const TOKEN = 'e2e-token-0123456789abcdef'

describe('end to end through HTTP', () => {
  it('POST /webhook, poll GET /patches/{id} until applied, find the commit with its trailer and tag', async () => {
    const root = makeWorkspace({ 'src/greet.js': 'export const greet = () => "hello"\n' })
    const config = defineConfig({
      dataDir: tempDir('gr-data-'),
      port: 0,
      logLevel: 'silent',
      apiTokens: [TOKEN],
      drainDelayMs: 0,
      workspaces: { default: workspace(root, { tagPrefix: 'agent/' }) },
      // A long poll: only the webhook's wake-up can make this test fast.
      runner: { leaseMs: 10_000, heartbeatMs: 200, pollMs: 60_000, maxAttempts: 3, concurrency: 2 },
    })
    config.health.intervalMs = 200
    config.health.runnerStaleMs = 1000
    const app = await buildApp(config, { runner: true })
    try {
      await app.listen({ host: '127.0.0.1', port: 0 })
      const { port } = app.server.address() as { port: number }
      const url = `http://127.0.0.1:${port}`
      const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

      const res = await fetch(`${url}/webhook`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          id: 'agent-run-7',
          target: 'default',
          description: 'shout the greeting',
          operations: [
            { op: 'replace', path: 'src/greet.js', find: '"hello"', replace: '"HELLO"', count: 1 },
            { op: 'apply_patch', patch: '*** Begin Patch\n*** Add File: src/farewell.js\n+export const bye = () => "bye"\n*** End Patch\n' },
          ],
          checks: ['ok'],
          commit: { tag: 'greet-1' },
        }),
      })
      assert.equal(res.status, 202, await res.clone().text())
      const { id } = (await res.json()) as { id: string }

      const started = Date.now()
      let record: PatchRecord | undefined
      while (Date.now() - started < 20_000) {
        const r = await fetch(`${url}/patches/${id}`, { headers })
        assert.equal(r.status, 200)
        record = (await r.json()) as PatchRecord
        if (!['queued', 'running'].includes(record.status)) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      assert.equal(record?.status, 'applied', JSON.stringify(record?.error))
      assert.ok(Date.now() - started < 10_000, 'the webhook woke the runner')
      const result = record.result!
      assert.deepEqual(commitsFor(root, id), [result.commit])
      assert.equal(git(root, 'log', '-1', '--format=%s%n%(trailers:key=Patch-Id,valueonly)', 'main').trim(), `[PATCH agent-run-7] shout the greeting\n${id}`)
      assert.equal(result.tag, 'agent/greet-1')
      assert.equal(git(root, 'rev-parse', 'agent/greet-1^{commit}').trim(), result.commit)
      assert.equal(readFileSync(path.join(root, 'src/greet.js'), 'utf8'), 'export const greet = () => "HELLO"\n')
      assert.deepEqual(result.files.map((f) => [f.path, f.change]).sort(), [['src/farewell.js', 'added'], ['src/greet.js', 'modified']])
      assert.equal(status(root), '')

      const runners = await app.store.runners()
      assert.ok(runners.some((r) => r.id === app.runner.id))

      // Health follows the runner: up while it runs, ghost_down (degraded) within seconds of it stopping.
      const health = async () => (await (await fetch(`${url}/health`, { headers })).json()) as { overall_status: string; flags: string[]; components: Record<string, unknown> }
      const deadline = (ms: number) => Date.now() + ms
      let until = deadline(5000)
      let body = await health()
      while (body.components.ghost_runner !== 'up' && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        body = await health()
      }
      assert.equal(body.components.ghost_runner, 'up', JSON.stringify(body))
      await app.runner.stop()
      const stoppedAt = Date.now()
      until = deadline(5000)
      // Under heavy load a critical probe can briefly go stale (unknown); wait for the settled state.
      while (!(body.flags.includes('ghost_down') && body.overall_status === 'degraded') && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        body = await health()
      }
      assert.equal(body.components.ghost_runner, 'down', JSON.stringify(body))
      assert.equal(body.overall_status, 'degraded')
      assert.ok(Date.now() - stoppedAt < 5000)
    } finally {
      await app.close()
    }
    assert.equal(app.runner.running, false, 'closing the app stops the runner')
  })
})
