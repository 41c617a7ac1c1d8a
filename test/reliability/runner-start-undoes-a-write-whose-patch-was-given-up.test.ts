import assert from 'node:assert/strict'
import { once } from 'node:events'
import { it } from 'node:test'
import { head, status, treeState } from '../helpers/git.js'
import { until } from '../helpers/app.js'
import { runnerKilledAt } from './killed-runner-rig.js'

// With maxAttempts 1 a patch whose runner died mid-write is not tried again: it is claimed once
// more only to verify whether its commit landed (VERIFY_ONLY_REASON), and, finding none, that
// claim records it failed LEASE_LOST without applying it. The runner's start undoes the
// half-written tree from the journal before it claims anything, so the workspace is clean from
// the start rather than only once that claim comes round.
it('a runner killed mid-write whose patch is then given up leaves no half-written tree: the next runner start undoes it', { timeout: 90_000 }, async () => {
  // Killed after the second of three files: the tree is half-written.
  const { root, before, store, id, next } = await runnerKilledAt('wrote-file:2')
  try {
    assert.notEqual(status(root), '', 'the kill left the tree half-written')

    const second = next()
    try {
      const record = await until('the patch to be given up', async () => {
        const r = await store.get(id)
        return r?.status === 'failed' ? r : null
      }, 30_000, second.output)
      assert.equal(record.error?.code, 'LEASE_LOST')
      await until('the runner to start', async () => (await store.runners()).length > 0, 30_000, second.output)
      assert.equal(status(root), '', 'the half-written tree was left behind')
      assert.deepEqual(treeState(root), before.tree)
      assert.equal(head(root), before.head)
    } finally {
      second.child.kill('SIGKILL')
      await once(second.child, 'exit').catch(() => {})
    }
  } finally {
    await store.close()
  }
})
