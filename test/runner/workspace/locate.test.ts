import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { locateWorkspace } from '../../../src/runner/workspace/workspace.js'
import { PatchFailure } from '../../../src/runner/failure.js'
import { git, makeWorkspace, workspace } from '../../helpers/git.js'
import { tempDir } from '../../helpers/app.js'

const unavailable = (err: unknown) => err instanceof PatchFailure && err.code === 'WORKSPACE_UNAVAILABLE'

it('a workspace located once is not taken for located after its repository is gone', async () => {
  // The workspace sits inside another repository: once its own .git is gone, git started in it
  // would find the outer one and commit there.
  const outer = makeWorkspace({ 'outer.txt': 'outer\n' })
  const root = path.join(outer, 'inner')
  mkdirSync(root)
  git(root, 'init', '-q', '-b', 'main')
  const ws = workspace(root)
  const opts = { dataDir: tempDir() }
  const first = await locateWorkspace(ws, opts)
  assert.equal(first.gitDir, path.join(first.root, '.git'))
  assert.deepEqual(await locateWorkspace(ws, opts), first)

  rmSync(path.join(root, '.git', 'objects'), { recursive: true })
  await assert.rejects(locateWorkspace(ws, opts), unavailable, 'a .git without objects is not a repository')

  rmSync(path.join(root, '.git'), { recursive: true })
  await assert.rejects(locateWorkspace(ws, opts), unavailable, 'the outer repository is not the workspace')

  // A gitfile pointing elsewhere (a worktree's) is located by git each time.
  git(root, 'init', '-q', '-b', 'main', '--separate-git-dir', path.join(tempDir(), 'elsewhere.git'))
  const moved = await locateWorkspace(ws, opts)
  assert.notEqual(moved.gitDir, first.gitDir)
  writeFileSync(path.join(root, '.git'), 'gitdir: /nonexistent/repo.git\n')
  await assert.rejects(locateWorkspace(ws, opts), unavailable)
})
