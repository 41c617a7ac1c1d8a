import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { runPatch } from '../../../src/runner/attempt/execute.js'
import { VERIFY_ONLY_REASON, type Store } from '../../../src/store/port.js'
import type { Config } from '../../../src/config.js'
import { commitCount, commitsFor, enqueue, git, head, makeWorkspace, openTestStore, patch, runNext, runnerConfig, silentLogger, status, tempDir, treeState, withRemote, workspace } from '../../helpers/git.js'

const FAR_FUTURE = Date.now() + 24 * 3600_000
const noLease = { signal: new AbortController().signal, check() {} }

/** A runner claims the patch, does all the work (the commit lands) and dies before recording it. */
async function commitAndDie(store: Store, config: Config): Promise<string> {
  const claimed = (await store.claim('doomed', { targets: null, leaseMs: 5000 }))!
  const outcome = await runPatch({ store, config, runnerId: 'doomed', claimed, lease: noLease, log: silentLogger })
  assert.equal(outcome.status, 'applied')
  return outcome.status === 'applied' ? outcome.result.commit! : ''
}


describe('a patch whose lease is lost before its last attempt, with a remote', () => {
  it('is neither rejected nor failed while the remote cannot be searched for what another host pushed', async () => {
    const { root: here, other: there, remote } = withRemote()
    const hostA = runnerConfig({ default: workspace(there, { remote }) })
    const hostB = runnerConfig({ default: workspace(here, { remote }) })
    const store = await openTestStore()
    const id = await enqueue(store, patch({ operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    const commit = await commitAndDie(store, hostA)
    assert.equal(await store.reapExpired({ maxAttempts: 3, now: FAR_FUTURE }), 1)
    assert.equal((await store.get(id))!.events.at(-1)?.reason, 'lease_expired')

    // Host B's tree has someone's work in it: it cannot fast-forward to look for the commit.
    writeFileSync(path.join(here, 'notes.txt'), 'mine\n')
    const blocked = await runNext(store, hostB, 'host-b')
    assert.equal(blocked.outcome.status, 'release', JSON.stringify(blocked.outcome))
    assert.equal(blocked.record.status, 'queued')
    assert.equal(blocked.record.events.at(-1)?.reason, 'unverified')

    git(here, 'clean', '-q', '-f')
    const { record } = await runNext(store, hostB, 'host-b')
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.equal(record.result!.commit, commit)
    assert.deepEqual(commitsFor(remote, id), [commit])
  })
})

describe('a patch whose lease is lost on its last attempt', () => {
  it('is recorded applied with the commit that landed, applied exactly once', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    const config = runnerConfig({ default: workspace(root) }, { runner: { leaseMs: 10_000, heartbeatMs: 200, pollMs: 50, maxAttempts: 1, concurrency: 1 } })
    const store = await openTestStore()
    const id = await enqueue(store, patch({ commit: { tag: 'v1' }, operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    const commit = await commitAndDie(store, config)

    assert.equal(await store.reapExpired({ maxAttempts: config.runner.maxAttempts, now: FAR_FUTURE }), 1)
    assert.equal((await store.get(id))!.status, 'queued', 'not failed: the commit is on the branch')

    const { outcome, record } = await runNext(store, config, 'verifier')
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.equal(outcome.status === 'applied' && outcome.recovered, true)
    assert.equal(record.result!.commit, commit)
    assert.equal(record.result!.tag, 'v1')
    assert.deepEqual(record.result!.files, [{ path: 'a.txt', change: 'modified', added: 1, removed: 1 }])
    assert.deepEqual(commitsFor(root, id), [commit])
    assert.equal(commitCount(root), 2)
    assert.equal(status(root), '')
    assert.deepEqual(record.events.map((e) => e.reason), ['enqueued', 'claimed', VERIFY_ONLY_REASON, 'claimed', 'completed'])
  })

  it('is recorded failed LEASE_LOST when nothing landed, and never applied by the verifying claim', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    const before = treeState(root)
    const headBefore = head(root)
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    const id = await enqueue(store, patch({ operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    // Three attempts, each claimed by a runner that died before committing.
    for (let i = 0; i < config.runner.maxAttempts; i++) {
      const c = await store.claim(`doomed-${i}`, { targets: null, leaseMs: 5000 })
      assert.equal(c?.record.id, id)
      assert.equal(await store.reapExpired({ maxAttempts: config.runner.maxAttempts, now: FAR_FUTURE }), 1)
    }
    assert.equal((await store.get(id))!.events.at(-1)?.reason, VERIFY_ONLY_REASON)

    const { outcome, record } = await runNext(store, config, 'verifier')
    assert.equal(outcome.status, 'failed')
    assert.equal(record.status, 'failed')
    assert.equal(record.error?.code, 'LEASE_LOST')
    assert.match(record.error!.message, /doomed-2/)
    assert.equal(record.result?.commit, null)
    assert.deepEqual(commitsFor(root, id), [])
    assert.equal(head(root), headBefore)
    assert.deepEqual(treeState(root), before)
  })

  it('a dirty tree does not stop a verification that needs no remote', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    const config = runnerConfig({ default: workspace(root) }, { runner: { leaseMs: 10_000, heartbeatMs: 200, pollMs: 50, maxAttempts: 1, concurrency: 1 } })
    const store = await openTestStore()
    const id = await enqueue(store, patch({ operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    const commit = await commitAndDie(store, config)
    await store.reapExpired({ maxAttempts: 1, now: FAR_FUTURE })
    // A person starts work in the workspace meanwhile: the commit is on the branch all the same.
    writeFileSync(path.join(root, 'notes.txt'), 'mine\n')
    const { record } = await runNext(store, config, 'verifier')
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.equal(record.result!.commit, commit)
    assert.deepEqual(commitsFor(root, id), [commit])
    assert.equal(status(root), '?? notes.txt\n', 'the person\'s work is left alone')
  })

  it('attempts that reach maxAttempts through releases never make a claim verification-only', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    const id = await enqueue(store, patch({ operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    for (let i = 0; i < config.runner.maxAttempts; i++) {
      const c = (await store.claim('busy', { targets: null, leaseMs: 5000 }))!
      assert.equal(await store.release(c.record.id, c.token, 'push_rejected', 'the remote moved'), true)
    }
    const { record } = await runNext(store, config)
    assert.equal(record.attempts, config.runner.maxAttempts + 1)
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.equal(commitsFor(root, id).length, 1)
  })

  it('with a remote, finds the commit another host pushed before it died', async () => {
    const { root: here, other: there, remote } = withRemote()
    const runner = { leaseMs: 10_000, heartbeatMs: 200, pollMs: 50, maxAttempts: 1, concurrency: 1 }
    const hostA = runnerConfig({ default: workspace(there, { remote }) }, { runner })
    const hostB = runnerConfig({ default: workspace(here, { remote }) }, { runner })
    const store = await openTestStore()
    const id = await enqueue(store, patch({ operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    const commit = await commitAndDie(store, hostA)
    assert.deepEqual(commitsFor(remote, id), [commit])
    await store.reapExpired({ maxAttempts: 1, now: FAR_FUTURE })

    const { record } = await runNext(store, hostB, 'host-b')
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.equal(record.result!.commit, commit)
    assert.deepEqual(commitsFor(remote, id), [commit])
    assert.equal(head(here), commit)
  })

  it('with an unreachable remote it cannot tell, so the patch goes back to its lane instead of being recorded failed', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    const config = runnerConfig({ default: workspace(root, { remote: path.join(tempDir('gr-gone-'), 'gone.git') }) }, { runner: { leaseMs: 10_000, heartbeatMs: 200, pollMs: 50, maxAttempts: 1, concurrency: 1 } })
    const store = await openTestStore()
    const id = await enqueue(store, patch({ operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    await store.claim('doomed', { targets: null, leaseMs: 5000 })
    await store.reapExpired({ maxAttempts: 1, now: FAR_FUTURE })
    const { outcome, record } = await runNext(store, config, 'verifier')
    assert.equal(outcome.status, 'release')
    assert.equal(record.status, 'queued')
    assert.equal(record.events.at(-1)?.reason, 'unverified')
    assert.deepEqual(commitsFor(root, id), [])
  })
})
