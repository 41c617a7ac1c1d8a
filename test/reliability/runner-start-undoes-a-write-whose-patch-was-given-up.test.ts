import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import { enqueue, head, makeWorkspace, patch, status, tempDir, treeState } from '../helpers/git.js'
import { until } from '../helper.js'
import { spawnWorker } from '../process.js'

// With maxAttempts 1 a patch whose runner died mid-write is not tried again: it is claimed once
// more only to verify whether its commit landed (VERIFY_ONLY_REASON), and, finding none, that
// claim records it failed LEASE_LOST without applying it. The runner's start undoes the
// half-written tree from the journal before it claims anything, so the workspace is clean from
// the start rather than only once that claim comes round.
it('a runner killed mid-write whose patch is then given up leaves no half-written tree: the next runner start undoes it', { timeout: 90_000 }, async () => {
  const root = makeWorkspace({ 'a.txt': 'a\n', 'b.txt': 'b\n' })
  const before = treeState(root)
  const dataDir = tempDir('gr-giveup-')
  const configFile = path.join(dataDir, 'config.json')
  const faultFile = path.join(dataDir, 'fault')
  writeFileSync(configFile, JSON.stringify({ workspaces: { default: { path: root, branch: 'main' } }, runner: { leaseMs: 500, heartbeatMs: 100, pollMs: 50, maxAttempts: 1 } }))
  const env = { GHOST_DATA_DIR: dataDir, GHOST_CONFIG: configFile, GHOST_FAULT_FILE: faultFile }
  const store = await openSqliteStore({ file: path.join(dataDir, 'ghost-runner.db') })
  try {
    const id = await enqueue(store, patch({ operations: [{ op: 'write', path: 'a.txt', contents: 'A\n' }, { op: 'write', path: 'b.txt', contents: 'B\n' }, { op: 'write', path: 'c.txt', contents: 'C\n' }] }))
    // Killed after the second of three files: the tree is half-written.
    writeFileSync(faultFile, 'wrote-file:2')
    const first = spawnWorker(env)
    await once(first.child, 'exit')
    assert.equal(first.child.signalCode, 'SIGKILL', first.output())
    assert.notEqual(status(root), '', 'the kill left the tree half-written')

    writeFileSync(faultFile, '')
    const second = spawnWorker(env)
    try {
      const record = await until('the patch to be given up', async () => {
        const r = await store.get(id)
        return r?.status === 'failed' ? r : null
      }, 30_000, second.output)
      assert.equal(record.error?.code, 'LEASE_LOST')
      await until('the runner to start', async () => (await store.runners()).length > 0, 30_000, second.output)
      assert.equal(status(root), '', 'the half-written tree was left behind')
      assert.deepEqual(treeState(root), before)
      assert.equal(head(root).length, 40)
    } finally {
      second.child.kill('SIGKILL')
      await once(second.child, 'exit').catch(() => {})
    }
  } finally {
    await store.close()
  }
})
