import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { FaultPoint } from '../../src/fault-point.js'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import { enqueue, head, makeWorkspace, patch, tempDir, treeState } from '../helpers/git.js'
import { spawnWorker } from '../helpers/process.js'

/**
 * A workspace and its SQLite store holding one patch of three file writes, whose first runner
 * was SIGKILLed at `fault`. With maxAttempts 1 that claim was the patch's last attempt, and
 * short leases let the next runner reap it within a second. The caller closes `store`.
 */
export async function runnerKilledAt(fault: `${FaultPoint}:${number}`) {
  const root = makeWorkspace({ 'a.txt': 'a\n', 'b.txt': 'b\n' })
  const before = { tree: treeState(root), head: head(root) }
  const dataDir = tempDir('gr-killed-runner-')
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
    /** Starts the next runner, with no fault armed. */
    const next = () => {
      writeFileSync(faultFile, '')
      return spawnWorker(env)
    }
    return { root, before, store, id, next }
  } catch (err) {
    await store.close()
    throw err
  }
}
