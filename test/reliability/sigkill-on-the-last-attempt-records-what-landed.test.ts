import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import type { PatchRecord } from '../../src/schemas/record.js'
import { VERIFY_ONLY_REASON } from '../../src/store/port.js'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import type { FaultPoint } from '../../src/fault-point.js'
import { commitsFor, enqueue, head, makeWorkspace, patch, status, tempDir, treeState } from '../helpers/git.js'
import { until } from '../helper.js'
import { spawnWorker } from '../process.js'

/**
 * With maxAttempts 1 the first claim is the last attempt. A runner SIGKILLed at `fault` leaves
 * the patch running under a lease nobody renews; a second runner reaps it and settles it.
 */
async function killedOnTheLastAttempt(fault: `${FaultPoint}:${number}`) {
  const root = makeWorkspace({ 'a.txt': 'a\n', 'b.txt': 'b\n' })
  const before = { tree: treeState(root), head: head(root) }
  const dataDir = tempDir('gr-last-attempt-')
  const configFile = path.join(dataDir, 'config.json')
  const faultFile = path.join(dataDir, 'fault')
  writeFileSync(configFile, JSON.stringify({ workspaces: { default: { path: root, branch: 'main' } }, runner: { leaseMs: 500, heartbeatMs: 100, pollMs: 50, maxAttempts: 1 } }))
  const env = { GHOST_DATA_DIR: dataDir, GHOST_CONFIG: configFile, GHOST_FAULT_FILE: faultFile }
  const store = await openSqliteStore({ file: path.join(dataDir, 'ghost-runner.db') })
  try {
    const id = await enqueue(store, patch({ operations: [{ op: 'write', path: 'a.txt', contents: 'A\n' }, { op: 'write', path: 'b.txt', contents: 'B\n' }, { op: 'write', path: 'c.txt', contents: 'C\n' }] }))
    writeFileSync(faultFile, fault)
    const first = spawnWorker(env)
    await once(first.child, 'exit')
    assert.equal(first.child.signalCode, 'SIGKILL', first.output())
    const landed = commitsFor(root, id)

    writeFileSync(faultFile, '')
    const second = spawnWorker(env)
    try {
      const record: PatchRecord = await until('the patch to settle', async () => {
        const r = await store.get(id)
        return r && r.status !== 'queued' && r.status !== 'running' ? r : null
      }, 30_000, second.output)
      assert.ok(record.events.some((e) => e.reason === VERIFY_ONLY_REASON), JSON.stringify(record.events))
      return { root, before, id, landed, record, output: second.output }
    } finally {
      second.child.kill('SIGKILL')
      await once(second.child, 'exit').catch(() => {})
    }
  } finally {
    await store.close()
  }
}

describe('a runner SIGKILLed on the last attempt of a patch', () => {
  for (const fault of ['committed:1', 'recording:1'] as const) {
    it(`after its commit (${fault}): the patch is recorded applied with that commit, applied once`, { timeout: 90_000 }, async () => {
      const { root, id, landed, record, output } = await killedOnTheLastAttempt(fault)
      assert.equal(landed.length, 1, 'the killed runner had committed')
      assert.equal(record.status, 'applied', `${JSON.stringify(record.error)}\n${output()}`)
      assert.equal(record.result?.commit, landed[0])
      assert.deepEqual(commitsFor(root, id), landed, 'applied exactly once')
      assert.equal(head(root), landed[0])
      assert.equal(status(root), '')
    })
  }

  it('before its commit (wrote-file:2): the patch is recorded failed LEASE_LOST and the tree is as it was', { timeout: 90_000 }, async () => {
    const { root, before, id, landed, record, output } = await killedOnTheLastAttempt('wrote-file:2')
    assert.deepEqual(landed, [])
    assert.equal(record.status, 'failed', output())
    assert.equal(record.error?.code, 'LEASE_LOST')
    assert.deepEqual(commitsFor(root, id), [])
    assert.equal(head(root), before.head)
    assert.deepEqual(treeState(root), before.tree)
    assert.equal(status(root), '')
  })
})
