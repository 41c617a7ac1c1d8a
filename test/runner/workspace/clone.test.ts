import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { PatchFailure } from '../../../src/runner/failure.js'
import { Runner } from '../../../src/runner/claim/runner.js'
import { prepareWorkspace } from '../../../src/runner/workspace/workspace.js'
import { commitsFor, enqueue, git, makeWorkspace, openTestStore, patch, runNext, runnerConfig, silentLogger, status, tempDir, workspace } from '../../helpers/git.js'

/** A bare remote holding `main` (with a.txt) and `other`, whose HEAD names `other`, not main. */
function bareRemote(): string {
  const seed = makeWorkspace({ 'a.txt': 'from the remote\n' })
  git(seed, 'switch', '-q', '-c', 'other')
  git(seed, 'commit', '-q', '--allow-empty', '-m', 'only on other')
  const remote = path.join(tempDir('gr-remote-'), 'remote.git')
  git(path.dirname(remote), 'init', '-q', '--bare', '-b', 'main', remote)
  git(seed, 'push', '-q', remote, 'main', 'other')
  git(remote, 'symbolic-ref', 'HEAD', 'refs/heads/other')
  return remote
}

const branchOf = (root: string) => git(root, 'symbolic-ref', '--short', 'HEAD').trim()

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('a workspace with a remote and no local repository yet', () => {
  it('is cloned on a new machine, on the configured branch, and a patch then lands on the remote', async () => {
    const remote = bareRemote()
    // Outside the data dir, where a missing workspace without a remote is refused.
    const root = path.join(tempDir('gr-new-machine-'), 'nested', 'ws')
    const config = runnerConfig({ default: workspace(root, { remote }) })
    await prepareWorkspace(config.workspaces.default!, { dataDir: config.dataDir })

    assert.equal(branchOf(root), 'main')
    assert.equal(git(root, 'rev-parse', 'HEAD').trim(), git(remote, 'rev-parse', 'main').trim(), 'the remote history, not a fresh one')
    assert.equal(readFileSync(path.join(root, 'a.txt'), 'utf8'), 'from the remote\n')
    assert.equal(status(root), '')
    assert.deepEqual(readdirSync(path.dirname(root)), ['ws'], 'no clone left beside the workspace')

    const store = await openTestStore()
    const id = await enqueue(store, patch({ operations: [{ op: 'write', path: 'a.txt', contents: 'patched\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.deepEqual(commitsFor(remote, id), [record.result!.commit])
    assert.equal(git(remote, 'rev-parse', 'main').trim(), record.result!.commit)
  })

  it('a patch is the first thing to need the workspace: locating it for the patch clones it', async () => {
    const remote = bareRemote()
    const config = runnerConfig({ default: workspace(path.join(tempDir('gr-new-machine-'), 'ws'), { remote }) })
    // Under the data dir a missing workspace used to be created empty, with a history of its own.
    config.workspaces.default!.path = path.join(config.dataDir, 'workspaces', 'default')
    const root = config.workspaces.default!.path
    const store = await openTestStore()
    const id = await enqueue(store, patch({ operations: [{ op: 'replace', path: 'a.txt', find: 'remote', replace: 'patch' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.equal(git(remote, 'show', 'main:a.txt'), 'from the patch\n')
    assert.deepEqual(commitsFor(remote, id), [record.result!.commit])
    assert.equal(git(root, 'rev-parse', 'HEAD~1').trim(), git(remote, 'rev-parse', 'main~1').trim())
  })

  it('an empty directory is cloned into', async () => {
    const remote = bareRemote()
    const root = path.join(tempDir('gr-new-machine-'), 'ws')
    mkdirSync(root)
    const ws = workspace(root, { remote })
    await prepareWorkspace(ws, { dataDir: tempDir('gr-data-') })
    assert.equal(branchOf(root), 'main')
    assert.equal(git(root, 'rev-parse', 'HEAD').trim(), git(remote, 'rev-parse', 'main').trim())
  })

  it('an empty remote leaves the branch unborn; the first patch creates it on the remote', async () => {
    const remote = path.join(tempDir('gr-remote-'), 'empty.git')
    git(path.dirname(remote), 'init', '-q', '--bare', '-b', 'main', remote)
    const root = path.join(tempDir('gr-new-machine-'), 'ws')
    const config = runnerConfig({ default: workspace(root, { remote }) })
    await prepareWorkspace(config.workspaces.default!, { dataDir: config.dataDir })
    assert.equal(branchOf(root), 'main')
    assert.equal(git(root, 'rev-list', '--all').trim(), '', 'no commit nobody asked for')

    const store = await openTestStore()
    const id = await enqueue(store, patch({ operations: [{ op: 'write', path: 'first.txt', contents: '1\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.deepEqual(commitsFor(remote, id), [record.result!.commit])
  })

  it('a directory holding something else is refused and left as it was', async () => {
    const remote = bareRemote()
    const root = path.join(tempDir('gr-new-machine-'), 'ws')
    mkdirSync(root)
    writeFileSync(path.join(root, 'notes.txt'), 'mine\n')
    await assert.rejects(prepareWorkspace(workspace(root, { remote }), { dataDir: tempDir('gr-data-') }), (err: unknown) => {
      assert.ok(err instanceof PatchFailure)
      assert.equal(err.code, 'WORKSPACE_UNAVAILABLE')
      return true
    })
    assert.deepEqual(readdirSync(root), ['notes.txt'])
  })

  it('a runner whose remote cannot be reached yet shows the workspace blocked, then clones it once the remote is there', async () => {
    const parent = tempDir('gr-new-machine-')
    const root = path.join(parent, 'ws')
    const remote = path.join(tempDir('gr-remote-'), 'later.git')
    const config = runnerConfig({ default: workspace(root, { remote }) })
    const store = await openTestStore()
    const runner = new Runner({ store, config, log: silentLogger })
    const blockedCodes = async () => ((await store.runners()).find((r) => r.id === runner.id)?.info as { blocked?: { code: string }[] } | undefined)?.blocked?.map((b) => b.code)
    await runner.start()
    try {
      assert.deepEqual(await blockedCodes(), ['WORKSPACE_UNAVAILABLE'])
      assert.equal(existsSync(root), false)
      git(path.dirname(remote), 'clone', '-q', '--bare', bareRemote(), remote)
      await until('the workspace to be cloned and usable', async () => (await blockedCodes())?.length === 0)
      assert.equal(git(root, 'rev-parse', 'HEAD').trim(), git(remote, 'rev-parse', 'main').trim())
      assert.equal(branchOf(root), 'main')
      assert.deepEqual(readdirSync(parent), ['ws'])
    } finally {
      await runner.stop()
    }
  })

  it('a runner prepares its workspaces together: two clones, and two names for one path made once', async () => {
    const parent = tempDir('gr-new-machine-')
    const [first, second] = [path.join(parent, 'one'), path.join(parent, 'two')]
    const dataDir = tempDir('gr-data-')
    const shared = path.join(dataDir, 'workspaces', 'shared')
    const config = runnerConfig(
      { one: workspace(first, { remote: bareRemote() }), two: workspace(second, { remote: bareRemote() }), a: workspace(shared), b: workspace(shared) },
      { dataDir },
    )
    const runner = new Runner({ store: await openTestStore(), config, log: silentLogger })
    await runner.prepareWorkspaces()
    assert.deepEqual([...runner.blocked.keys()], [])
    for (const root of [first, second]) assert.equal(branchOf(root), 'main')
    assert.equal(git(shared, 'rev-list', '--count', 'HEAD').trim(), '1', 'one initial commit')
  })

  it('an unreachable remote leaves nothing behind and says so', async () => {
    const parent = tempDir('gr-new-machine-')
    const root = path.join(parent, 'ws')
    const ws = workspace(root, { remote: path.join(parent, 'no-such-remote.git') })
    await assert.rejects(prepareWorkspace(ws, { dataDir: tempDir('gr-data-') }), (err: unknown) => {
      assert.ok(err instanceof PatchFailure)
      assert.equal(err.code, 'WORKSPACE_UNAVAILABLE')
      assert.match(err.message, /could not clone/)
      return true
    })
    assert.equal(existsSync(root), false)
    assert.deepEqual(readdirSync(parent), [])
  })
})
