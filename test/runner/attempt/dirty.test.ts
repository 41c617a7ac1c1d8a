import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Runner } from '../../../src/runner/claim/runner.js'
import { commitCount, enqueue, git, makeWorkspace, openTestStore, patch, runNext, runnerConfig, silentLogger, treeState, workspace } from '../../helpers/git.js'

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('a workspace with changes the runner did not make', () => {
  it('is refused with WORKSPACE_DIRTY and the paths, and the person’s work is untouched', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n', 'b.txt': 'b\n' })
    writeFileSync(path.join(root, 'a.txt'), 'work in progress\n')
    writeFileSync(path.join(root, 'notes.txt'), 'untracked\n')
    writeFileSync(path.join(root, 'b.txt'), 'staged\n')
    git(root, 'add', 'b.txt')
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    const before = treeState(root)
    const index = git(root, 'diff', '--cached')
    await enqueue(store, patch({ operations: [{ op: 'write', path: 'c.txt', contents: 'c\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'rejected')
    assert.equal(record.error?.code, 'WORKSPACE_DIRTY')
    assert.deepEqual(record.error!.detail!.split('\n').sort(), ['a.txt', 'b.txt', 'notes.txt'])
    assert.deepEqual(treeState(root), before)
    assert.equal(git(root, 'diff', '--cached'), index)
    assert.equal(commitCount(root), 1)
  })

  it('refuses while a rebase or merge is in progress', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    git(root, 'checkout', '-q', '-b', 'side')
    writeFileSync(path.join(root, 'a.txt'), 'side\n')
    git(root, 'commit', '-qam', 'side')
    git(root, 'checkout', '-q', 'main')
    writeFileSync(path.join(root, 'a.txt'), 'main\n')
    git(root, 'commit', '-qam', 'main')
    assert.throws(() => git(root, 'merge', 'side'))
    // Resolved to the current content: nothing to commit, but the merge is still in progress.
    writeFileSync(path.join(root, 'a.txt'), 'main\n')
    git(root, 'add', 'a.txt')
    assert.equal(git(root, 'status', '--porcelain'), '')
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    await enqueue(store, patch({ operations: [{ op: 'write', path: 'c.txt', contents: 'c\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'rejected')
    assert.equal(record.error?.code, 'WORKSPACE_BUSY')
    assert.match(record.error!.message, /a merge is in progress/)
  })

  it('shows up in the runner heartbeat until the person commits', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    writeFileSync(path.join(root, 'a.txt'), 'mine\n')
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    const runner = new Runner({ store, config, log: silentLogger })
    await runner.start()
    try {
      const blocked = await until('blocked in heartbeat', async () => {
        const info = (await store.runners()).find((r) => r.id === runner.id)?.info as { blocked?: { target: string; code: string; message: string; paths: string[] }[] } | undefined
        return info?.blocked?.length ? info.blocked : null
      })
      assert.deepEqual(blocked, [{ target: 'default', code: 'WORKSPACE_DIRTY', message: blocked[0]!.message, paths: ['a.txt'] }])
      git(root, 'commit', '-qam', 'person commits')
      await until('unblocked', async () => {
        const info = (await store.runners()).find((r) => r.id === runner.id)?.info as { blocked?: unknown[] } | undefined
        return info?.blocked?.length === 0
      })
    } finally {
      await runner.stop()
    }
  })
})
