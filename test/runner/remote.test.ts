import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { commitsFor, enqueue, git, head, makeWorkspace, openTestStore, patch, runNext, runnerConfig, status, tempDir, workspace } from '../helpers/git.js'

/** A bare remote seeded from a workspace, plus a second clone standing for someone else. */
function setup() {
  const root = makeWorkspace({ 'a.txt': 'a\n' })
  const remote = path.join(tempDir('gr-remote-'), 'remote.git')
  git(path.dirname(remote), 'init', '-q', '--bare', '-b', 'main', remote)
  git(root, 'push', '-q', remote, 'main')
  const other = path.join(tempDir('gr-other-'), 'other')
  git(path.dirname(other), 'clone', '-q', remote, other)
  return { root, remote, other }
}

function pushFromOther(other: string, file: string) {
  git(other, 'pull', '-q', '--ff-only')
  git(other, 'commit', '-q', '--allow-empty', '-m', `someone else: ${file}`)
  git(other, 'push', '-q', 'origin', 'main')
}

describe('workspace with a remote', () => {
  it('pushes the commit and the tag, and fast-forwards to what others pushed first', async () => {
    const { root, remote, other } = setup()
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
    const { root, remote, other } = setup()
    // The check pushes from the other clone (once): the remote moves between fetch and push.
    const race = `
      const { execFileSync } = require('child_process'); const fs = require('fs')
      const marker = ${JSON.stringify(path.join(other, '.git', 'raced'))}
      if (!fs.existsSync(marker)) {
        fs.writeFileSync(marker, '')
        const g = (...a) => execFileSync('git', ['-c', 'user.name=o', '-c', 'user.email=o@x', ...a], { cwd: ${JSON.stringify(other)} })
        g('pull', '-q', '--ff-only'); g('commit', '-q', '--allow-empty', '-m', 'raced'); g('push', '-q', 'origin', 'main')
      }`
    const config = runnerConfig({ default: workspace(root, { remote, checks: { race: ['node', '-e', race] } }) })
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
})
