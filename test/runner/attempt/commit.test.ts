import { existsSync, lstatSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { commitsFor, commitCount, enqueue, git, head, makeWorkspace, openTestStore, patch, runNext, runnerConfig, status, treeState, workspace } from '../../helpers/git.js'

describe('commit', () => {
  it('lands one commit with the Patch-Id trailer, the tag, the author and the file stats', async () => {
    const root = makeWorkspace({ 'src/a.txt': 'one\ntwo\nthree\n', 'old.txt': 'moved\ncontent\nhere\n', 'gone.txt': 'bye\n', 'run.sh': { exec: 'echo hi\n' } })
    const config = runnerConfig({ default: workspace(root, { tagPrefix: 'ghost/' }) })
    const store = await openTestStore()
    const id = await enqueue(
      store,
      patch({
        client_id: 'agent-42',
        description: 'edit, add, delete, rename',
        checks: ['ok'],
        commit: { tag: 'v1.0.0' },
        operations: [
          { op: 'replace', path: 'src/a.txt', find: 'two', replace: 'TWO\n2' },
          { op: 'write', path: 'new/deep/b.txt', contents: 'fresh\n' },
          { op: 'delete', path: 'gone.txt' },
          { op: 'rename', from: 'old.txt', to: 'moved.txt' },
          { op: 'replace', path: 'run.sh', find: 'hi', replace: 'hello' },
        ],
      }),
    )
    const before = head(root)
    const { outcome, record } = await runNext(store, config)
    assert.equal(outcome.status, 'applied', JSON.stringify(outcome))
    assert.equal(record.status, 'applied')
    const result = record.result!
    assert.equal(result.commit, head(root))
    assert.equal(git(root, 'rev-parse', 'HEAD~1').trim(), before)
    assert.equal(result.tag, 'ghost/v1.0.0')
    assert.equal(git(root, 'rev-parse', 'ghost/v1.0.0^{commit}').trim(), result.commit)

    const message = git(root, 'log', '-1', '--format=%B')
    assert.equal(message, `[PATCH agent-42] edit, add, delete, rename\n\nPatch-Id: ${id}\n\n`)
    assert.equal(git(root, 'log', '-1', '--format=%(trailers:key=Patch-Id,valueonly)').trim(), id)
    assert.equal(git(root, 'log', '-1', '--format=%an <%ae>|%cn <%ce>').trim(), 'Ghost Runner <ghost@example.com>|Ghost Runner <ghost@example.com>')
    assert.equal(status(root), '')
    assert.equal(lstatSync(path.join(root, 'run.sh')).mode & 0o777, 0o755, 'mode kept')
    assert.equal(readFileSync(path.join(root, 'run.sh'), 'utf8'), 'echo hello\n')
    assert.ok(!existsSync(path.join(root, 'gone.txt')))

    const byPath = Object.fromEntries(result.files.map((f) => [f.path, f]))
    assert.deepEqual(byPath['src/a.txt'], { path: 'src/a.txt', change: 'modified', added: 2, removed: 1 })
    assert.deepEqual(byPath['new/deep/b.txt'], { path: 'new/deep/b.txt', change: 'added', added: 1, removed: 0 })
    assert.deepEqual(byPath['gone.txt'], { path: 'gone.txt', change: 'deleted', added: 0, removed: 1 })
    assert.deepEqual(byPath['moved.txt'], { path: 'moved.txt', change: 'renamed', from: 'old.txt', added: 0, removed: 0 })
    assert.equal(result.checks.length, 1)
    assert.equal(result.checks[0]!.exit_code, 0)
    for (const phase of ['plan', 'write', 'checks', 'commit']) assert.equal(typeof result.durations_ms[phase], 'number', phase)
    assert.deepEqual(record.events.map((e) => e.status), ['queued', 'running', 'applied'])
  })

  it('keeps a commit message with shell metacharacters literally and runs nothing', async () => {
    const marker = `/tmp/pwned-${process.pid}`
    rmSync(marker, { force: true })
    const root = makeWorkspace()
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    const hostile = `fix: $(touch ${marker}) \`touch ${marker}\`; rm -rf / && echo "$HOME" | tee ${marker}\n\n# not a comment\n--- not a divider\n-F /etc/passwd`
    const id = await enqueue(store, patch({ commit: { message: hostile }, operations: [{ op: 'write', path: 'x.txt', contents: 'x\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.equal(git(root, 'log', '-1', '--format=%B'), `${hostile}\n\nPatch-Id: ${id}\n\n`)
    assert.ok(!existsSync(marker), 'a metacharacter was interpreted')
    assert.equal(status(root), '')
  })

  it('refuses tags that are not safe ref names, before touching the tree', async () => {
    for (const tag of ['$(touch /tmp/pwned)', 'v1`id`', 'v1; rm -rf .', '-d', '--delete', 'a..b', 'v1.lock', 'x y', 'refs/../x']) {
      const root = makeWorkspace()
      const config = runnerConfig({ default: workspace(root) })
      const store = await openTestStore()
      const before = treeState(root)
      await enqueue(store, patch({ commit: { tag }, operations: [{ op: 'write', path: 'x.txt', contents: 'x\n' }] }))
      const { record } = await runNext(store, config)
      assert.equal(record.status, 'rejected', tag)
      assert.equal(record.error?.code, 'INVALID_TAG', tag)
      assert.deepEqual(treeState(root), before)
      assert.equal(status(root), '')
      assert.equal(git(root, 'tag', '--list'), '')
      assert.equal(commitCount(root), 1)
    }
  })

  it('refuses tags that would shadow a branch or HEAD, or name a full ref: the branch still means the branch', async () => {
    for (const tag of ['main', 'topic', 'HEAD', 'FETCH_HEAD', 'ORIG_HEAD', 'CHERRY_PICK_HEAD', '@', 'refs/heads/main', 'refs/tags/x']) {
      const root = makeWorkspace()
      git(root, 'branch', 'topic')
      const config = runnerConfig({ default: workspace(root) })
      const store = await openTestStore()
      const before = treeState(root)
      const branchHead = git(root, 'rev-parse', 'refs/heads/main').trim()
      await enqueue(store, patch({ commit: { tag }, operations: [{ op: 'write', path: 'x.txt', contents: 'x\n' }] }))
      const { record } = await runNext(store, config)
      assert.equal(record.status, 'rejected', tag)
      assert.equal(record.error?.code, 'INVALID_TAG', tag)
      assert.equal(git(root, 'tag', '--list'), '', tag)
      assert.equal(git(root, 'rev-parse', 'main').trim(), branchHead, `${tag}: "main" resolves to the branch`)
      assert.deepEqual(treeState(root), before)
      assert.equal(commitCount(root), 1)
    }
  })

  it('takes the tag prefix into account: under "ghost/" the tag "main" is ghost/main and lands', async () => {
    const root = makeWorkspace()
    const config = runnerConfig({ default: workspace(root, { tagPrefix: 'ghost/' }) })
    const store = await openTestStore()
    await enqueue(store, patch({ commit: { tag: 'main' }, operations: [{ op: 'write', path: 'x.txt', contents: 'x\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.equal(record.result?.tag, 'ghost/main')
    assert.equal(git(root, 'rev-parse', 'main').trim(), record.result?.commit)
  })

  it('refuses a tag that already exists', async () => {
    const root = makeWorkspace()
    git(root, 'tag', 'v1')
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    await enqueue(store, patch({ commit: { tag: 'v1' }, operations: [{ op: 'write', path: 'x.txt', contents: 'x\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.error?.code, 'TAG_EXISTS')
    assert.equal(commitCount(root), 1)
    assert.equal(status(root), '')
  })

  it('commits a patch that changes nothing as an empty commit, so every patch is traceable', async () => {
    const root = makeWorkspace({ 'a.txt': 'same\n' })
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    const id = await enqueue(store, patch({ operations: [{ op: 'write', path: 'a.txt', contents: 'same\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'applied')
    assert.deepEqual(commitsFor(root, id), [record.result!.commit])
    assert.deepEqual(record.result!.files, [])
  })

  it('commits files the patch writes even when .gitignore matches them, and only the patch paths', async () => {
    const root = makeWorkspace({ '.gitignore': '*.log\n' })
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    await enqueue(store, patch({ operations: [{ op: 'write', path: 'build.log', contents: 'wanted\n' }, { op: 'write', path: '*.txt', contents: 'a glob-looking name\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.deepEqual(git(root, 'show', '--name-only', '--format=', 'HEAD').split('\n').filter(Boolean).sort(), ['*.txt', 'build.log'])
  })
})
