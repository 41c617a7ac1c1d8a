import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { processStartTicks } from '../../../src/runner/process/start-ticks.js'
import { enqueue, makeWorkspace, openTestStore, patch, runNext, runnerConfig, workspace } from '../../helpers/git.js'

const lockFile = (root: string) => path.join(root, '.git', 'ghost-runner', 'lock')

function writeLock(root: string, holder: Record<string, unknown>) {
  mkdirSync(path.dirname(lockFile(root)), { recursive: true })
  writeFileSync(lockFile(root), JSON.stringify({ host: hostname(), runner_id: 'other', at: new Date().toISOString(), ...holder }))
}

describe('workspace lock', () => {
  it('a workspace held by a live runner process puts the patch back in its lane', async () => {
    const root = makeWorkspace()
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    try {
      writeLock(root, { pid: holder.pid, start: processStartTicks(holder.pid!) })
      const config = runnerConfig({ default: workspace(root) })
      const store = await openTestStore()
      await enqueue(store, patch({ operations: [{ op: 'write', path: 'x.txt', contents: 'x\n' }] }))
      const { outcome, record } = await runNext(store, config)
      assert.equal(outcome.status, 'release')
      assert.equal(record.status, 'queued')
      assert.equal(record.events.at(-1)?.reason, 'workspace_busy')
      assert.equal(record.attempts, 0, 'a claim that found the workspace held is not an attempt')
      assert.ok(existsSync(lockFile(root)), 'someone else’s lock is left alone')
      assert.ok(!existsSync(path.join(root, 'x.txt')))
    } finally {
      const exited = once(holder, 'exit')
      holder.kill('SIGKILL')
      await exited
    }
  })

  it('a lock left by a dead process, or by an earlier process with a reused pid, is taken over', async () => {
    for (const holder of [{ pid: 2 ** 22 + 12345 }, { pid: process.ppid, start: 'not-its-start-time' }]) {
      const root = makeWorkspace()
      writeLock(root, holder)
      const config = runnerConfig({ default: workspace(root) })
      const store = await openTestStore()
      await enqueue(store, patch({ operations: [{ op: 'write', path: 'x.txt', contents: 'x\n' }] }))
      const { record } = await runNext(store, config)
      assert.equal(record.status, 'applied', JSON.stringify(holder))
      assert.ok(!existsSync(lockFile(root)), 'released after the patch')
    }
  })
})
