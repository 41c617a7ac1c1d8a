import { existsSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { commitMessage, commitPatch } from '../../../src/runner/attempt/commit.js'
import { runPatch } from '../../../src/runner/attempt/execute.js'
import { LeaseKeeper } from '../../../src/runner/claim/lease.js'
import { commitCount, commitsFor, enqueue, git, makeWorkspace, openTestStore, patch, runNext, runnerConfig, silentLogger, status, treeState, workspace } from '../../helpers/git.js'

const FAR_FUTURE = Date.now() + 24 * 3600_000

describe('crash recovery', () => {
  it('a re-claimed patch whose commit already landed is recorded applied with that commit, not applied twice', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    const id = await enqueue(store, patch({ commit: { tag: 'once' }, operations: [{ op: 'replace', path: 'a.txt', find: 'a', replace: 'b' }] }))

    // First runner: does all the work, then dies before recording it.
    const claimed = (await store.claim('doomed', { targets: null, leaseMs: 5000 }))!
    const outcome = await runPatch({ store, config, runnerId: 'doomed', claimed, lease: { signal: new AbortController().signal, check() {} }, log: silentLogger })
    assert.equal(outcome.status, 'applied')
    const commit = outcome.status === 'applied' ? outcome.result.commit : null
    assert.equal(await store.reapExpired({ maxAttempts: 3, now: FAR_FUTURE }), 1)
    assert.equal((await store.get(id))!.status, 'queued')

    const { outcome: second, record } = await runNext(store, config, 'survivor')
    assert.equal(second.status, 'applied')
    assert.equal(second.status === 'applied' && second.recovered, true)
    assert.equal(record.status, 'applied')
    assert.equal(record.result!.commit, commit)
    assert.equal(record.result!.tag, 'once')
    assert.deepEqual(record.result!.files, [{ path: 'a.txt', change: 'modified', added: 1, removed: 1 }])
    assert.deepEqual(commitsFor(root, id), [commit])
    assert.equal(commitCount(root), 2)
    assert.equal(status(root), '')
  })

  it('creates the tag when the crash came between the commit and the tag', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    const id = await enqueue(store, patch({ commit: { tag: 'late' }, operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    const claimed = (await store.claim('doomed', { targets: null, leaseMs: 5000 }))!
    const { writeFileSync } = await import('node:fs')
    writeFileSync(path.join(root, 'a.txt'), 'b\n')
    const sha = await commitPatch(config.workspaces.default!, { root, gitDir: path.join(root, '.git') }, ['a.txt'], commitMessage(claimed.record), id)
    await store.reapExpired({ maxAttempts: 3, now: FAR_FUTURE })

    const { record } = await runNext(store, config)
    assert.equal(record.status, 'applied')
    assert.equal(record.result!.commit, sha)
    assert.equal(git(root, 'rev-parse', 'late^{commit}').trim(), sha)
    assert.equal(commitCount(root), 2)
  })

  it('does not take a quoted Patch-Id in another commit for its own', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    const id = await enqueue(store, patch({ operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    git(root, 'commit', '-q', '--allow-empty', '-m', `revert something\n\nPatch-Id: ${id}\nReviewed-by: someone`)
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'applied')
    assert.notEqual(record.result!.commit, git(root, 'rev-parse', 'HEAD~1').trim())
    assert.equal(git(root, 'show', 'HEAD:a.txt'), 'b\n')
  })

  it('a runner that loses its lease mid-check stops, restores the tree and records nothing', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    const before = treeState(root)
    const id = await enqueue(store, patch({ checks: ['sleep'], operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    const claimed = (await store.claim('slow', { targets: null, leaseMs: 5000 }))!
    const lease = new LeaseKeeper(store, id, claimed.token, 5000, claimed.leaseExpiresAt, silentLogger)
    lease.start(100)
    const running = runPatch({ store, config, runnerId: 'slow', claimed, lease, log: silentLogger })
    const journal = path.join(root, '.git', 'ghost-runner', 'check.json')
    while (!existsSync(journal)) await new Promise((r) => setTimeout(r, 20))
    // Another runner's reaper decides this lease is dead.
    await store.reapExpired({ maxAttempts: 3, now: FAR_FUTURE })
    const outcome = await running
    await lease.stop()
    assert.equal(outcome.status, 'abandoned')
    assert.deepEqual(treeState(root), before)
    assert.equal(status(root), '')
    assert.equal(commitCount(root), 1)
    assert.equal((await store.get(id))!.status, 'queued')
    assert.equal(await store.complete(id, claimed.token, { commit: null, tag: null, files: [], checks: [], durations_ms: {} }), false, 'the old token is fenced off')
  })
})
