import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import type { PatchRecord } from '../../src/schemas/record.js'
import { VERIFY_ONLY_REASON } from '../../src/store/port.js'
import type { FaultPoint } from '../../src/fault-point.js'
import { commitsFor, head, status, treeState } from '../helpers/git.js'
import { until } from '../helpers/app.js'
import { runnerKilledAt } from './killed-runner-rig.js'

/**
 * With maxAttempts 1 the first claim is the last attempt. A runner SIGKILLed at `fault` leaves
 * the patch running under a lease nobody renews; the next runner reaps it and settles it.
 */
async function killedOnTheLastAttempt(fault: `${FaultPoint}:${number}`) {
  const { root, before, store, id, next } = await runnerKilledAt(fault)
  try {
    const landed = commitsFor(root, id)

    const second = next()
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
