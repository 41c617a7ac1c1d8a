import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { realpathSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildJournal, readJournal, writeJournal } from '../../../src/runner/attempt/journal.js'
import { MODE_FILE, planOperations, type FileChange } from '../../../src/runner/operations/index.js'
import { recoverInterrupted } from '../../../src/runner/attempt/recovery.js'
import { captureChanges, restoreSnapshot, writeChanges } from '../../../src/runner/attempt/tree-writer.js'
import type { Operation } from '../../../src/schemas/patch.js'
import { git, makeWorkspace, silentLogger, status, treeState, workspace } from '../../helpers/git.js'

const TREE = {
  'keep/private.txt': 'secret\n',
  'shared.txt': 'group\n',
  'only/child.txt': 'last file in its directory\n',
  'bin/tool': { exec: '#!/bin/sh\n' },
  'alias': { link: 'shared.txt' },
  'becomes-dir': 'a file now\n',
}

const OPS: Operation[] = [
  { op: 'write', path: 'keep/private.txt', contents: 'still secret, edited\n' },
  { op: 'write', path: 'shared.txt', contents: 'edited\n' },
  { op: 'delete', path: 'only/child.txt' },
  { op: 'write', path: 'fresh/a/b/c.txt', contents: 'deep\n' },
  { op: 'rename', from: 'bin/tool', to: 'bin/tool2' },
  { op: 'delete', path: 'alias' },
  { op: 'delete', path: 'becomes-dir' },
  { op: 'write', path: 'becomes-dir/inside.txt', contents: 'now a directory\n' },
  { op: 'diff', diff: 'diff --git a/ln b/ln\nnew file mode 120000\n--- /dev/null\n+++ b/ln\n@@ -0,0 +1 @@\n+fresh/a/b/c.txt\n\\ No newline at end of file\n' },
]

function repo(): string {
  const root = realpathSync(makeWorkspace(TREE))
  // Modes git does not record must survive too.
  chmodSync(path.join(root, 'keep/private.txt'), 0o600)
  chmodSync(path.join(root, 'shared.txt'), 0o664)
  chmodSync(path.join(root, 'only'), 0o750)
  return root
}

describe('tree writer', () => {
  it('writes atomically, keeps modes, and restores every byte, mode and directory', async () => {
    const root = repo()
    const before = treeState(root)
    const changes = await planOperations(root, OPS)
    const snapshot = await writeChanges(root, await captureChanges(root, changes), 'test')
    assert.equal(readFileSync(path.join(root, 'fresh/a/b/c.txt'), 'utf8'), 'deep\n')
    assert.equal(lstatSync(path.join(root, 'keep/private.txt')).mode & 0o777, 0o600, 'mode of an edited file kept')
    assert.equal(lstatSync(path.join(root, 'shared.txt')).mode & 0o777, 0o664)
    assert.equal(lstatSync(path.join(root, 'bin/tool2')).mode & 0o777, 0o755)
    assert.ok(lstatSync(path.join(root, 'ln')).isSymbolicLink())
    assert.ok(!existsSync(path.join(root, 'only')), 'a directory emptied by a deletion goes, as with git')
    assert.ok(lstatSync(path.join(root, 'becomes-dir')).isDirectory())
    assert.ok(!treeState(root)['.ghost-test-0.tmp'])

    await restoreSnapshot(snapshot)
    assert.deepEqual(treeState(root), before)
    assert.equal(status(root), '')
  })

  it('brings back every directory a deletion emptied with its exact mode, nested or taken over by the patch', async () => {
    const root = realpathSync(makeWorkspace({
      'deep/a/b/only.txt': 'the one file of three nested directories\n',
      'bin/tool': { exec: '#!/bin/sh\n' },
      'solo/x.txt': 'alone\n',
      'refilled/old.txt': 'replaced by a deeper file\n',
      'kept.txt': 'so the root is not emptied\n',
    }))
    // None has the mode a re-created directory gets (0o755 under umask 022): each must be restored itself,
    // not left to the restored files re-creating it.
    const modes = { 'deep': 0o711, 'deep/a': 0o700, 'deep/a/b': 0o750, 'bin': 0o2750, 'solo': 0o770, 'refilled': 0o751 }
    for (const [dir, mode] of Object.entries(modes)) chmodSync(path.join(root, dir), mode)
    const before = treeState(root)
    const ops: Operation[] = [
      { op: 'delete', path: 'deep/a/b/only.txt' },
      // bin and refilled are emptied, then needed again by the new file, re-created with the default mode.
      { op: 'rename', from: 'bin/tool', to: 'bin/tool2' },
      { op: 'delete', path: 'solo/x.txt' },
      { op: 'delete', path: 'refilled/old.txt' },
      { op: 'write', path: 'refilled/new/y.txt', contents: 'deeper\n' },
    ]
    const snapshot = await writeChanges(root, await captureChanges(root, await planOperations(root, ops)), 'test')
    assert.ok(!existsSync(path.join(root, 'deep')), 'the emptied chain deep/a/b is gone')
    assert.ok(!existsSync(path.join(root, 'solo')))

    await restoreSnapshot(snapshot)
    const modeOf = (dir: string) => '0o' + (lstatSync(path.join(root, dir)).mode & 0o7777).toString(8)
    assert.deepEqual(
      Object.fromEntries(Object.keys(modes).map((dir) => [dir, modeOf(dir)])),
      Object.fromEntries(Object.entries(modes).map(([dir, mode]) => [dir, '0o' + mode.toString(8)])),
    )
    assert.deepEqual(treeState(root), before)
    assert.equal(status(root), '')
  })

  it('restores what it had written when a later write fails', async () => {
    const root = repo()
    const before = treeState(root)
    const changes: FileChange[] = [
      { path: 'shared.txt', before: { contents: Buffer.from('group\n'), mode: MODE_FILE }, after: { contents: Buffer.from('changed\n'), mode: MODE_FILE } },
      { path: 'fresh/new.txt', before: null, after: { contents: Buffer.from('new\n'), mode: MODE_FILE } },
      // Its parent is a regular file: this write cannot succeed.
      { path: 'shared.txt.d/x', before: null, after: { contents: Buffer.from('x'), mode: MODE_FILE } },
    ]
    writeFileSync(path.join(root, 'shared.txt.d'), 'a file\n')
    git(root, 'add', 'shared.txt.d')
    git(root, 'commit', '-qm', 'file')
    const withFile = treeState(root)
    assert.notDeepEqual(withFile, before)
    await assert.rejects(writeChanges(root, await captureChanges(root, changes), 'test'))
    assert.deepEqual(treeState(root), withFile)
    assert.equal(status(root), '')
  })

  it('refuses to write when the tree changed after planning', async () => {
    const root = repo()
    const changes = await planOperations(root, OPS)
    writeFileSync(path.join(root, 'shared.txt'), 'someone else\n')
    await assert.rejects(captureChanges(root, changes), /changed while the patch was being planned/)
  })

  it('after a crash mid-patch, the journal undoes the runner’s writes (and unstages them), nothing else', async () => {
    const root = repo()
    const before = treeState(root)
    const gitDir = path.join(root, '.git')
    const captured = await captureChanges(root, await planOperations(root, OPS))
    await writeJournal(gitDir, await buildJournal(root, { patchId: 'pt_crashed', runnerId: 'dead', head: null, tempTag: 'crash' }, captured))
    await writeChanges(root, captured, 'crash')
    // The runner died after staging and before committing; a stray temp file is left too.
    git(root, 'add', '-A')
    writeFileSync(path.join(path.dirname(captured[1]!.abs), '.ghost-crash-1.tmp'), 'partial')
    assert.notEqual(status(root), '')

    await recoverInterrupted(workspace(root), { root, gitDir }, silentLogger)
    assert.equal(readJournal(gitDir), null)
    const after = treeState(root)
    // Directory permissions of a removed directory come back as created; git does not track them.
    assert.deepEqual({ ...after, only: undefined }, { ...before, only: undefined })
    assert.equal(status(root), '')
  })

  it('leaves a file someone changed after the crash for the dirty check to report', async () => {
    const root = repo()
    const gitDir = path.join(root, '.git')
    const captured = await captureChanges(root, await planOperations(root, OPS))
    await writeJournal(gitDir, await buildJournal(root, { patchId: 'pt_crashed', runnerId: 'dead', head: null, tempTag: 'crash' }, captured))
    await writeChanges(root, captured, 'crash')
    writeFileSync(path.join(root, 'shared.txt'), 'a person edited this after the crash\n')
    mkdirSync(path.join(root, 'fresh/a/b'), { recursive: true })

    await recoverInterrupted(workspace(root), { root, gitDir }, silentLogger)
    assert.equal(readFileSync(path.join(root, 'shared.txt'), 'utf8'), 'a person edited this after the crash\n')
    assert.equal(readFileSync(path.join(root, 'keep/private.txt'), 'utf8'), 'secret\n', 'the runner’s own write was undone')
    assert.equal(status(root).trim(), 'M shared.txt')
  })
})
