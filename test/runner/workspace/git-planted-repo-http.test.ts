import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import type { PatchRecord } from '../../../src/schemas/record.js'
import { gitRepo, SECRET, tempDir } from '../../helpers/app.js'
import { treeState } from '../../helpers/git.js'
import { markerReport, markersLeft, plantedPayload } from '../../helpers/planted-repo.js'
import { kill, serviceToken, spawnService } from '../../helpers/process.js'

// The attack as it was found: one API token, a fresh `ghost-runner start`, the planted bare
// repository posted over HTTP. Nothing it plants may run, and nothing of the service's
// environment may come back in a record, a log line or a commit.
describe('a planted git repository posted to a fresh service', () => {
  it('runs nothing, leaks nothing, rejects byte for byte and applies as plain files', async () => {
    const dir = tempDir()
    const markers = tempDir('gr-markers-')
    const outside = tempDir('gr-outside-')
    const workspace = gitRepo({ 'README.md': '# demo\n' })
    const token = serviceToken()
    const canary = `canary-${randomUUID()}`
    const service = await spawnService(
      'start',
      {
        GHOST_DATA_DIR: path.join(dir, 'data'),
        GHOST_WORKSPACES: `default=${workspace}`,
        GHOST_API_TOKENS: token,
        GHOST_WEBHOOK_SECRETS: SECRET,
        GHOST_DRAIN_DELAY_MS: '0',
        SERVICE_CANARY: canary,
      },
      { timeoutMs: 60_000 },
    )
    after(() => kill(service.child, 'SIGTERM'))
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }

    async function send(failLastHunk: boolean): Promise<PatchRecord> {
      const { operations } = plantedPayload('bare', { markers, outside, failLastHunk })
      const res = await fetch(`${service.url}/webhook`, { method: 'POST', headers, body: JSON.stringify({ target: 'default', description: 'planted repository', operations }) })
      assert.equal(res.status, 202, await res.clone().text())
      const { id } = (await res.json()) as { id: string }
      const deadline = Date.now() + 30_000
      for (;;) {
        const record = (await (await fetch(`${service.url}/patches/${id}`, { headers })).json()) as PatchRecord
        if (!['queued', 'running'].includes(record.status)) return record
        if (Date.now() > deadline) assert.fail(`patch ${id} did not settle\n${service.output()}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }

    const before = treeState(workspace)
    const rejected = await send(true)
    assert.equal(rejected.status, 'rejected', JSON.stringify(rejected.error))
    assert.equal(rejected.error?.code, 'CONTEXT_NOT_FOUND')
    assert.deepEqual(treeState(workspace), before, 'the rejected patch changed the tree')

    const applied = await send(false)
    assert.equal(applied.status, 'applied', JSON.stringify(applied.error))

    assert.deepEqual(markersLeft(markers), [], `commands the patch planted ran:\n${markerReport(markers)}`)
    const history = execFileSync('git', ['log', '-p', '--all', '--format=%H%n%B'], { cwd: workspace, encoding: 'utf8' })
    const seen = { records: JSON.stringify([rejected, applied]), log: service.output(), history }
    for (const [name, secret] of Object.entries({ token, webhookSecret: SECRET, canary })) {
      for (const [where, text] of Object.entries(seen)) assert.ok(!text.includes(secret), `the service's ${name} appears in the ${where}`)
    }
  })
})
