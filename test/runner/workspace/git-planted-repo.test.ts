import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { planOperations, RejectError } from '../../../src/runner/operations/index.js'
import { MODE_EXEC } from '../../../src/runner/operations/types.js'
import type { Operation } from '../../../src/schemas/patch.js'
import { enqueue, git, head, makeWorkspace, openTestStore, patch, runNext, runnerConfig, status, tempDir, treeState, withRemote, workspace } from '../../helpers/git.js'
import { changedEntries, LAYOUTS, markerCommand, markerReport, markersLeft, plantedPayload } from '../../helpers/planted-repo.js'

/** A directory for markers, and a bare repository outside every workspace that a payload points at. */
function setting() {
  const markers = tempDir('gr-markers-')
  const outside = path.join(tempDir('gr-outside-'), 'outside.git')
  git(path.dirname(outside), 'init', '-q', '--bare', outside)
  return { markers, outside }
}

function assertNothingRan(markers: string, outside: string, outsideBefore: Record<string, string>) {
  assert.deepEqual(markersLeft(markers), [], `commands a patch planted ran:\n${markerReport(markers)}`)
  assert.deepEqual(changedEntries(outsideBefore, treeState(outside)), [], 'something was written outside the workspace')
}

const rejectedWith = (code: string) => (err: unknown) => {
  assert.ok(err instanceof RejectError, String(err))
  assert.equal(err.code, code, `${err.code}: ${err.message}`)
  return true
}

describe('a git repository planted in the tree runs nothing while a patch is planned', () => {
  for (const layout of LAYOUTS) {
    for (const failLastHunk of [true, false]) {
      it(`${layout} layout, ${failLastHunk ? 'its last hunk failing' : 'every hunk applying'}`, async () => {
        const { markers, outside } = setting()
        const outsideBefore = treeState(outside)
        const root = makeWorkspace()
        const before = treeState(root)
        const { operations, paths } = plantedPayload(layout, { markers, outside, failLastHunk })
        if (failLastHunk) {
          await assert.rejects(planOperations(root, operations), rejectedWith('CONTEXT_NOT_FOUND'))
        } else {
          const changes = await planOperations(root, operations)
          assert.deepEqual(changes.map((c) => c.path).sort(), [...paths].sort())
          const written = new Map(operations.flatMap((op) => (op.op === 'write' ? [[op.path, op.contents] as const] : [])))
          for (const c of changes) {
            // Byte for byte what the patch wrote: no filter, encoding or line-ending conversion.
            if (written.has(c.path)) assert.equal(c.after?.contents.toString('utf8'), written.get(c.path), c.path)
            else assert.equal(c.after?.mode, MODE_EXEC, c.path)
          }
        }
        assert.deepEqual(treeState(root), before, 'planning wrote to the workspace')
        assertNothingRan(markers, outside, outsideBefore)
      })
    }
  }
})

describe('a git repository planted in the tree runs nothing through the runner', () => {
  for (const layout of LAYOUTS) {
    it(`${layout} layout: rejected byte for byte, then applied and built on`, async () => {
      const { markers, outside } = setting()
      const outsideBefore = treeState(outside)
      const root = makeWorkspace()
      const config = runnerConfig({ default: workspace(root) })
      const store = await openTestStore()
      const start = head(root)
      const before = treeState(root)

      await enqueue(store, patch({ checks: ['ok'], operations: plantedPayload(layout, { markers, outside, failLastHunk: true }).operations }))
      const rejected = (await runNext(store, config)).record
      assert.equal(rejected.status, 'rejected', JSON.stringify(rejected.error))
      assert.equal(rejected.error?.code, 'CONTEXT_NOT_FOUND')
      assert.deepEqual(treeState(root), before, 'the tree changed')
      assert.equal(head(root), start)
      assertNothingRan(markers, outside, outsideBefore)

      const { operations, paths, touchAgain } = plantedPayload(layout, { markers, outside, failLastHunk: false })
      await enqueue(store, patch({ checks: ['ok'], commit: { tag: `planted-${layout}` }, operations }))
      const applied = (await runNext(store, config)).record
      assert.equal(applied.status, 'applied', JSON.stringify(applied.error))
      assert.deepEqual(applied.result!.files.map((f) => f.path).sort(), [...paths].sort())
      assert.equal(status(root), '')

      // The planted files are in the workspace now: every git command of the next patch runs on them.
      const prefix = layout === 'nested' ? 'nested/' : ''
      const next: Operation[] = [
        { op: 'replace', path: `${prefix}README.md`, find: '# demo', replace: '# demo, again' },
        touchAgain,
      ]
      await enqueue(store, patch({ checks: ['ok'], commit: { tag: `after-${layout}` }, operations: next }))
      const built = (await runNext(store, config)).record
      assert.equal(built.status, 'applied', JSON.stringify(built.error))
      assert.equal(status(root), '')
      assertNothingRan(markers, outside, outsideBefore)
    })
  }
})

describe('what the webhook refuses, the runner refuses on its own', () => {
  it('a .git file or directory in a subfolder, by any operation, is rejected with the tree unchanged', async () => {
    const { markers, outside } = setting()
    // The repository a gitfile would send git to: its config runs a command for nearly anything.
    writeFileSync(path.join(outside, 'config'), `[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = ..\n\tfsmonitor = "${markerCommand(markers, 'gitdir-fsmonitor')}"\n`)
    const outsideBefore = treeState(outside)
    const before = (root: string) => ({ tree: treeState(root), head: head(root) })
    const gitfile = `gitdir: ${outside}\n`
    const newFile = (p: string, line: string) => [`diff --git a/${p} b/${p}`, 'new file mode 100644', '--- /dev/null', `+++ b/${p}`, '@@ -0,0 +1 @@', `+${line}`, ''].join('\n')
    const cases: Operation[][] = [
      [{ op: 'write', path: 'sub/.git', contents: gitfile }],
      [{ op: 'write', path: 'sub/.git/config', contents: '[core]\n\tbare = false\n' }],
      [{ op: 'write', path: 'sub/gitfile', contents: gitfile }, { op: 'rename', from: 'sub/gitfile', to: 'sub/.git' }],
      [{ op: 'diff', diff: newFile('sub/.git', gitfile.trim()) }],
      [{ op: 'apply_patch', patch: `*** Begin Patch\n*** Add File: sub/.git\n+${gitfile.trim()}\n*** End Patch\n` }],
      [{ op: 'write', path: 'sub/.git/commondir', contents: `${outside}\n` }],
    ]
    const root = makeWorkspace()
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    for (const operations of cases) {
      const start = before(root)
      await enqueue(store, patch({ checks: ['ok'], operations: [{ op: 'write', path: 'sub/ok.txt', contents: 'ok\n' }, ...operations] }))
      const { record } = await runNext(store, config)
      assert.equal(record.status, 'rejected', JSON.stringify(operations))
      assert.equal(record.error?.code, 'PATH_OUTSIDE_WORKSPACE', JSON.stringify(record.error))
      assert.deepEqual(before(root), start)
    }
    assertNothingRan(markers, outside, outsideBefore)
  })

  it('hooks in the workspace repository do not run for any step of a patch', async () => {
    const markers = tempDir('gr-markers-')
    const root = makeWorkspace()
    const hooks = path.join(root, '.git', 'hooks')
    mkdirSync(hooks, { recursive: true })
    for (const hook of ['pre-commit', 'prepare-commit-msg', 'commit-msg', 'post-commit', 'post-checkout', 'post-index-change', 'reference-transaction', 'post-rewrite', 'pre-auto-gc']) {
      writeFileSync(path.join(hooks, hook), `#!/bin/sh\n${markerCommand(markers, `hook-${hook}`)}\n`)
      chmodSync(path.join(hooks, hook), 0o755)
    }
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    await enqueue(store, patch({ checks: ['ok'], commit: { tag: 'hooked' }, operations: [{ op: 'write', path: 'a.txt', contents: 'a\n' }] }))
    assert.equal((await runNext(store, config)).record.status, 'applied')
    await enqueue(store, patch({ checks: ['fail'], operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    assert.equal((await runNext(store, config)).record.status, 'failed')
    assert.deepEqual(markersLeft(markers), [], `hooks ran:\n${markerReport(markers)}`)
  })

  it('.gitmodules naming submodules (a local repository, an ext:: command) clones, fetches and runs nothing', async () => {
    const { markers, outside } = setting()
    writeFileSync(path.join(outside, 'hooks', 'post-checkout'), `#!/bin/sh\n${markerCommand(markers, 'submodule-post-checkout')}\n`)
    chmodSync(path.join(outside, 'hooks', 'post-checkout'), 0o755)
    const outsideBefore = treeState(outside)
    const { root, remote } = withRemote()
    const config = runnerConfig({ default: workspace(root, { remote }) })
    const store = await openTestStore()
    const gitmodules = [
      '[submodule "lib"]',
      '\tpath = lib',
      `\turl = ${outside}`,
      `\tupdate = !${markerCommand(markers, 'submodule-update')}`,
      '[submodule "ext"]',
      '\tpath = ext',
      `\turl = ext::sh -c ${markerCommand(markers, 'submodule-ext').replaceAll(' ', '% ')}`,
      '',
    ].join('\n')
    await enqueue(store, patch({ checks: ['ok'], operations: [{ op: 'write', path: '.gitmodules', contents: gitmodules }, { op: 'write', path: 'lib/README', contents: 'lib\n' }] }))
    const first = (await runNext(store, config)).record
    assert.equal(first.status, 'applied', JSON.stringify(first.error))
    // The next patch fetches, merges and pushes with .gitmodules in the tree.
    await enqueue(store, patch({ checks: ['ok'], commit: { tag: 'after-gitmodules' }, operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    const second = (await runNext(store, config)).record
    assert.equal(second.status, 'applied', JSON.stringify(second.error))
    assert.equal(git(remote, 'rev-parse', 'main').trim(), head(root))
    assert.equal(existsSync(path.join(root, 'ext')), false)
    assertNothingRan(markers, outside, outsideBefore)
  })
})
