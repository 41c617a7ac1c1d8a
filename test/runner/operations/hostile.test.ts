import assert from 'node:assert/strict'
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import type { Operation } from '../../../src/schemas/patch.js'
import { expectReject, makeRepo, plan, tempDir } from '../../helpers/operations.js'

const symlinkDiff = (p: string, target: string) =>
  [`diff --git a/${p} b/${p}`, 'new file mode 120000', '--- /dev/null', `+++ b/${p}`, '@@ -0,0 +1 @@', `+${target}`, '\\ No newline at end of file', ''].join('\n')

const newFileDiff = (p: string, line: string) =>
  [`diff --git a/${p} b/${p}`, 'new file mode 100644', '--- /dev/null', `+++ b/${p}`, '@@ -0,0 +1 @@', `+${line}`, ''].join('\n')

const v4a = (...body: string[]): Operation => ({ op: 'apply_patch', patch: ['*** Begin Patch', ...body, '*** End Patch'].join('\n') })

describe('hostile paths', () => {
  const root = makeRepo({ 'a.txt': 'a\n' })
  const escapes = ['../escape.txt', '/tmp/abs.txt', 'x/../../escape.txt', '.git/config', '.GIT/hooks/pre-commit', 'a\0b', 'a//b', './a.txt']
  for (const p of escapes) {
    it(`refuses ${JSON.stringify(p)} in every operation kind`, async () => {
      const ops: Operation[] = [
        { op: 'write', path: p, contents: 'x' },
        { op: 'replace', path: p, find: 'a', replace: 'b' },
        { op: 'insert', path: p, after: 'a', contents: 'b' },
        { op: 'delete', path: p },
        { op: 'rename', from: 'a.txt', to: p },
        { op: 'rename', from: p, to: 'b.txt' },
        v4a(`*** Add File: ${p}`, '+x'),
        v4a(`*** Delete File: ${p}`),
        v4a(`*** Update File: a.txt`, `*** Move to: ${p}`),
      ]
      for (const op of ops) {
        const err = await expectReject(root, [op], 'PATH_OUTSIDE_WORKSPACE')
        assert.equal(err.operation, 0)
      }
    })
  }

  it('refuses paths in diff headers that leave the workspace or enter .git', async () => {
    await expectReject(root, [{ op: 'diff', diff: newFileDiff('.git/hooks/post-checkout', 'echo pwned') }], 'PATH_OUTSIDE_WORKSPACE')
    await expectReject(root, [{ op: 'diff', diff: newFileDiff('sub/.GIT/config', '[core]') }], 'PATH_OUTSIDE_WORKSPACE')
    const traversal = ['--- a/../outside.txt', '+++ b/../outside.txt', '@@ -0,0 +1 @@', '+x', ''].join('\n')
    const err = await expectReject(root, [{ op: 'diff', diff: traversal }], 'PATH_OUTSIDE_WORKSPACE')
    assert.equal(err.path, '../outside.txt')
    await expectReject(root, [{ op: 'diff', diff: newFileDiff('../x', 'x') }], 'PATH_OUTSIDE_WORKSPACE')
  })
})

describe('symlinks in the workspace', () => {
  function setup() {
    const outside = tempDir('ops-outside-')
    writeFileSync(path.join(outside, 'target.txt'), 'outside secret\n')
    const root = makeRepo({ 'a.txt': 'a\n', 'real/in.txt': 'in\n' })
    symlinkSync(outside, path.join(root, 'out'))
    symlinkSync(path.join(outside, 'target.txt'), path.join(root, 'secret'))
    symlinkSync('real', path.join(root, 'alias'))
    return { root, outside }
  }
  const untouched = (outside: string) => {
    assert.deepEqual(readdirSync(outside).sort(), ['target.txt'])
    assert.equal(readFileSync(path.join(outside, 'target.txt'), 'utf8'), 'outside secret\n')
  }

  it('refuses writing through a symlinked directory, whatever the operation', async () => {
    const { root, outside } = setup()
    const ops: Operation[] = [
      { op: 'write', path: 'out/pwn.txt', contents: 'x' },
      { op: 'write', path: 'alias/in.txt', contents: 'x' },
      { op: 'rename', from: 'a.txt', to: 'out/a.txt' },
      { op: 'replace', path: 'out/target.txt', find: 'secret', replace: 'x' },
      v4a('*** Add File: out/pwn.txt', '+x'),
      v4a('*** Update File: out/target.txt', '@@', '-outside secret', '+owned'),
      { op: 'diff', diff: newFileDiff('out/pwn.txt', 'x') },
    ]
    for (const op of ops) await expectReject(root, [op], 'PATH_OUTSIDE_WORKSPACE')
    untouched(outside)
  })

  it('refuses writing through a symlinked file, but lets the link itself be deleted', async () => {
    const { root, outside } = setup()
    const ops: Operation[] = [
      { op: 'write', path: 'secret', contents: 'x' },
      { op: 'replace', path: 'secret', find: 'secret', replace: 'x' },
      { op: 'insert', path: 'secret', after: 'outside', contents: 'x' },
      v4a('*** Update File: secret', '@@', '-outside secret', '+owned'),
    ]
    for (const op of ops) await expectReject(root, [op], 'PATH_OUTSIDE_WORKSPACE')

    // git compares a diff against the link text, never the file behind it...
    const viaDiff = ['diff --git a/secret b/secret', '--- a/secret', '+++ b/secret', '@@ -1 +1 @@', '-outside secret', '+owned', ''].join('\n')
    await expectReject(root, [{ op: 'diff', diff: viaDiff }], 'CONTEXT_NOT_FOUND')
    // ...and a diff that re-points the link at another outside file is refused on the way back.
    const target = path.join(outside, 'target.txt')
    const repoint = ['diff --git a/secret b/secret', '--- a/secret', '+++ b/secret', '@@ -1 +1 @@', `-${target}`, '\\ No newline at end of file', '+/etc/passwd', '\\ No newline at end of file', ''].join('\n')
    await expectReject(root, [{ op: 'diff', diff: repoint }], 'PATH_OUTSIDE_WORKSPACE')
    untouched(outside)

    const [change] = await plan(root, [{ op: 'delete', path: 'secret' }])
    assert.equal(change?.before?.mode, 0o120000)
    assert.equal(change?.after, null)
  })

  it('refuses a diff creating a symlink that points outside, at .git, or at another link', async () => {
    const { root, outside } = setup()
    for (const target of ['/etc', outside, '../../..', '..', '.git', 'real/../.git/config', 'out']) {
      await expectReject(root, [{ op: 'diff', diff: symlinkDiff('evil', target) }], 'PATH_OUTSIDE_WORKSPACE')
    }
    untouched(outside)
  })

  it('refuses writing through a symlink created earlier in the same patch', async () => {
    const root = makeRepo({ 'sub/keep.txt': 'k\n' })
    const [created] = await plan(root, [{ op: 'diff', diff: symlinkDiff('lnk', 'sub') }])
    assert.deepEqual(created, { path: 'lnk', before: null, after: { contents: Buffer.from('sub'), mode: 0o120000 } })

    for (const op of [
      { op: 'write', path: 'lnk/x.txt', contents: 'x' },
      v4a('*** Add File: lnk/x.txt', '+x'),
      { op: 'diff', diff: newFileDiff('lnk/x.txt', 'x') },
      { op: 'write', path: 'lnk', contents: 'overwrite the link' },
    ] as Operation[]) {
      const err = await expectReject(root, [{ op: 'diff', diff: symlinkDiff('lnk', 'sub') }, op], 'PATH_OUTSIDE_WORKSPACE')
      assert.equal(err.operation, 1)
    }
  })

  it('refuses moving a symlink to where its relative target would escape', async () => {
    const root = makeRepo({ 'b.txt': 'b\n', 'a/keep': 'k\n' })
    symlinkSync('../b.txt', path.join(root, 'a', 'link'))
    await expectReject(root, [{ op: 'rename', from: 'a/link', to: 'link' }], 'PATH_OUTSIDE_WORKSPACE')
    const [, moved] = await plan(root, [{ op: 'rename', from: 'a/link', to: 'c/link' }])
    assert.deepEqual(moved?.after, { contents: Buffer.from('../b.txt'), mode: 0o120000 })
  })
})
