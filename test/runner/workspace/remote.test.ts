import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { commitsFor, enqueue, git, head, openTestStore, patch, runNext, runnerConfig, status, withRemote, workspace } from '../../helpers/git.js'

function pushFromOther(other: string, file: string) {
  git(other, 'pull', '-q', '--ff-only')
  git(other, 'commit', '-q', '--allow-empty', '-m', `someone else: ${file}`)
  git(other, 'push', '-q', 'origin', 'main')
}

describe('workspace with a remote', () => {
  it('pushes the commit and the tag, and fast-forwards to what others pushed first', async () => {
    const { root, remote, other } = withRemote()
    const config = runnerConfig({ default: workspace(root, { remote }) })
    const store = await openTestStore()
    const first = await enqueue(store, patch({ commit: { tag: 'r1' }, operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    assert.equal((await runNext(store, config)).record.status, 'applied')
    assert.equal(git(remote, 'rev-parse', 'main').trim(), head(root))
    assert.equal(git(remote, 'rev-parse', 'r1^{commit}').trim(), head(root))
    assert.deepEqual(commitsFor(remote, first).length, 1)

    pushFromOther(other, 'x')
    const second = await enqueue(store, patch({ operations: [{ op: 'write', path: 'c.txt', contents: 'c\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.equal(git(root, 'log', '-1', '--format=%s', 'HEAD~1').trim(), 'someone else: x')
    assert.equal(git(remote, 'rev-parse', 'main').trim(), record.result!.commit)
    assert.equal(commitsFor(remote, second).length, 1)
  })

  it('a lost push race restores everything and puts the patch back; the retry lands on top', async () => {
    const { root, remote, other } = withRemote()
    // The check pushes from the other clone (once): the remote moves between fetch and push.
    const race = `
      const { execFileSync } = require('child_process'); const fs = require('fs')
      const marker = ${JSON.stringify(path.join(other, '.git', 'raced'))}
      if (!fs.existsSync(marker)) {
        fs.writeFileSync(marker, '')
        const g = (...a) => execFileSync('git', ['-c', 'user.name=o', '-c', 'user.email=o@x', ...a], { cwd: ${JSON.stringify(other)} })
        g('pull', '-q', '--ff-only'); g('commit', '-q', '--allow-empty', '-m', 'raced'); g('push', '-q', 'origin', 'main')
      }`
    // The check stands for someone else pushing meanwhile: it works on another clone, outside its
    // workspace, which only an unsandboxed check may.
    const config = runnerConfig({ default: workspace(root, { remote, sandbox: 'none', checks: { race: ['node', '-e', race] } }) })
    const store = await openTestStore()
    const before = head(root)
    const id = await enqueue(store, patch({ checks: ['race'], commit: { tag: 'once' }, operations: [{ op: 'write', path: 'a.txt', contents: 'mine\n' }] }))

    const first = await runNext(store, config)
    assert.equal(first.outcome.status, 'release', JSON.stringify(first.outcome))
    assert.equal(first.record.status, 'queued')
    assert.equal(first.record.events.at(-1)?.reason, 'push_rejected')
    assert.equal(head(root), before)
    assert.equal(status(root), '')
    assert.equal(git(root, 'tag', '--list'), '')

    const { record } = await runNext(store, config)
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.equal(git(remote, 'log', '-1', '--format=%s', 'main~1').trim(), 'raced')
    assert.deepEqual(commitsFor(remote, id), [record.result!.commit])
    assert.equal(git(remote, 'rev-parse', 'once^{commit}').trim(), record.result!.commit)
  })

  it('lost push races are bounded: after maxAttempts the patch fails, never forced, nothing of it on the remote', async () => {
    const { root, remote, other } = withRemote()
    // Someone pushes during every check: each attempt loses the race.
    const race = `
      const { execFileSync } = require('child_process')
      const g = (...a) => execFileSync('git', ['-c', 'user.name=o', '-c', 'user.email=o@x', ...a], { cwd: ${JSON.stringify(other)} })
      g('pull', '-q', '--ff-only'); g('commit', '-q', '--allow-empty', '-m', 'raced'); g('push', '-q', 'origin', 'main')`
    // The check stands for someone else pushing meanwhile: it works on another clone, outside its
    // workspace, which only an unsandboxed check may.
    const config = runnerConfig({ default: workspace(root, { remote, sandbox: 'none', checks: { race: ['node', '-e', race] } }) })
    assert.equal(config.runner.maxAttempts, 3)
    const store = await openTestStore()
    const id = await enqueue(store, patch({ checks: ['race'], commit: { tag: 'never' }, operations: [{ op: 'write', path: 'a.txt', contents: 'mine\n' }] }))

    for (let attempt = 1; attempt < 3; attempt++) {
      const { outcome, record } = await runNext(store, config)
      assert.equal(outcome.status, 'release', JSON.stringify(outcome))
      assert.equal(record.status, 'queued')
    }
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'failed')
    assert.equal(record.error?.code, 'PUSH_REJECTED')
    assert.equal(record.events.filter((e) => e.reason === 'push_rejected').length, 2)
    assert.deepEqual(commitsFor(remote, id), [])
    assert.equal(git(remote, 'tag', '--list'), '')
    // Every push of the other clone survived: the runner never forced the branch.
    assert.equal(git(remote, 'log', '--format=%s', 'main').split('\n').filter((s) => s === 'raced').length, 3)
    assert.equal(status(root), '')
    assert.equal(git(root, 'tag', '--list'), '')
  })

  it('a runner killed between its commit and its push leaves a commit the next patch drops, not pushes', async () => {
    const { root, remote, other } = withRemote()
    const store = await openTestStore()
    const mine = runnerConfig({ default: workspace(root, { remote }) })
    const theirs = runnerConfig({ default: workspace(other, { remote }) })
    // P: committed here by a runner that died before pushing, then landed by the other runner.
    const p = await enqueue(store, patch({ commit: { tag: 'p' }, operations: [{ op: 'write', path: 'p.txt', contents: 'p\n' }] }))
    strandedCommit(root, p, 'p')
    assert.equal((await runNext(store, theirs, 'other-runner')).record.status, 'applied')
    // F: committed here, never pushed, and ended failed (its lease was lost too often).
    const f = await enqueue(store, patch({ operations: [{ op: 'write', path: 'f.txt', contents: 'f\n' }] }))
    const claimed = (await store.claim('dead-runner', { targets: null, leaseMs: 1000 }))!
    await store.fail(f, claimed.token, 'failed', { code: 'LEASE_LOST', message: 'lease lost' }, null)
    strandedCommit(root, f, null)

    const q = await enqueue(store, patch({ operations: [{ op: 'write', path: 'q.txt', contents: 'q\n' }] }))
    const { record } = await runNext(store, mine)
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.equal(commitsFor(remote, p).length, 1, 'P was applied twice')
    assert.deepEqual(commitsFor(remote, f), [], 'a failed patch landed')
    assert.deepEqual(commitsFor(remote, q), [record.result!.commit])
    assert.equal(head(root), git(remote, 'rev-parse', 'main').trim())
    assert.equal(git(root, 'rev-parse', 'p^{commit}').trim(), commitsFor(remote, p)[0], 'the stranded tag was replaced by the landed one')
    assert.equal(status(root), '')
  })

  it('commits of a person in the clone are still pushed, and a divergence with them is still refused', async () => {
    const { root, remote, other } = withRemote()
    const store = await openTestStore()
    const config = runnerConfig({ default: workspace(root, { remote }) })
    git(root, 'commit', '-q', '--allow-empty', '-m', 'a person commits here')
    await enqueue(store, patch({ operations: [{ op: 'write', path: 'x.txt', contents: 'x\n' }] }))
    assert.equal((await runNext(store, config)).record.status, 'applied')
    assert.equal(git(remote, 'log', '-1', '--format=%s', 'main~1').trim(), 'a person commits here')

    git(root, 'commit', '-q', '--allow-empty', '-m', 'a person again')
    pushFromOther(other, 'y')
    await enqueue(store, patch({ operations: [{ op: 'write', path: 'y.txt', contents: 'y\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'failed')
    assert.equal(record.error?.code, 'REMOTE_DIVERGED')
  })
})

/** A commit as the runner makes it (message, Patch-Id trailer, optional tag), never pushed. */
function strandedCommit(root: string, id: string, tag: string | null) {
  git(root, 'commit', '-q', '--allow-empty', '-m', `[PATCH ${id}] stranded\n\nPatch-Id: ${id}`)
  if (tag !== null) git(root, 'tag', '-a', '-m', `Patch-Id: ${id}`, tag)
}
