import assert from 'node:assert/strict'
import { mkdirSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { afterText, expectReject, git, makeRepo, plan, tempDir, writeChanges, writeTree, type Tree } from '../../helpers/operations.js'

/** The diff git itself produces for turning `base` into `base + edits` (with `removed` gone). */
function realDiff(base: Tree, edits: Tree, removed: string[] = [], renames: Array<[string, string]> = []): string {
  return realDiffAndTree(base, edits, removed, renames).diff
}

function realDiffAndTree(base: Tree, edits: Tree, removed: string[] = [], renames: Array<[string, string]> = []): { diff: string; tree: string } {
  const root = makeRepo(base)
  for (const [from, to] of renames) {
    mkdirSync(path.dirname(path.join(root, to)), { recursive: true })
    git(root, 'mv', from, to)
  }
  for (const p of removed) git(root, 'rm', '-q', p)
  writeTree(root, edits)
  git(root, 'add', '-A')
  return { diff: git(root, 'diff', '--cached', '-M', '--binary'), tree: git(root, 'write-tree').trim() }
}

describe('diff', () => {
  it('applies a multi-file diff: create, delete, rename with edit, mode change, symlink', async () => {
    const base: Tree = {
      'src/main.ts': 'import { a } from "./a.js"\n\nconsole.log(a)\n',
      'src/a.ts': 'export const a = 1\nexport const b = 2\nexport const c = 3\n',
      'old.txt': 'remove me\n',
      'run.sh': '#!/bin/sh\necho hi\n',
    }
    const { diff, tree } = realDiffAndTree(
      base,
      {
        'src/lib/a.ts': 'export const a = 1\nexport const b = 20\nexport const c = 3\n',
        'src/main.ts': 'import { a } from "./lib/a.js"\n\nconsole.log(a)\n',
        'docs/new.md': '# New\n',
        'run.sh': { exec: '#!/bin/sh\necho hi\n' },
        'latest': { link: 'docs/new.md' },
      },
      ['old.txt'],
      [['src/a.ts', 'src/lib/a.ts']],
    )
    assert.match(diff, /rename from src\/a\.ts/)
    assert.match(diff, /new mode 100755/)

    const root = makeRepo(base)
    const changes = await plan(root, [{ op: 'diff', diff }])
    const after = Object.fromEntries(changes.map((c) => [c.path, c.after]))
    assert.deepEqual(Object.keys(after).sort(), ['docs/new.md', 'latest', 'old.txt', 'run.sh', 'src/a.ts', 'src/lib/a.ts', 'src/main.ts'])
    assert.equal(after['old.txt'], null)
    assert.equal(after['src/a.ts'], null)
    assert.equal(after['src/lib/a.ts']?.contents.toString(), 'export const a = 1\nexport const b = 20\nexport const c = 3\n')
    assert.equal(after['run.sh']?.mode, 0o100755)
    assert.deepEqual(after['latest'], { contents: Buffer.from('docs/new.md'), mode: 0o120000 })

    writeChanges(root, changes)
    git(root, 'add', '-A')
    assert.equal(git(root, 'write-tree').trim(), tree)
  })

  it('applies on top of earlier operations in the same patch', async () => {
    const root = makeRepo({ 'a.txt': 'one\n' })
    const diff = realDiff({ 'a.txt': 'one\ntwo\n' }, { 'a.txt': 'one\ntwo\nthree\n' })
    const changes = await plan(root, [
      { op: 'write', path: 'a.txt', contents: 'one\ntwo\n' },
      { op: 'diff', diff },
    ])
    assert.deepEqual(afterText(changes), { 'a.txt': 'one\ntwo\nthree\n' })
  })

  it('handles a missing final newline, CRLF, non-UTF-8 and binary files exactly', async () => {
    // Line 1 is Latin-1; the edit is far enough away that the diff text itself stays UTF-8.
    const far = Array.from({ length: 10 }, (_, i) => `row ${i}\n`).join('')
    const latin = Buffer.concat([Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), Buffer.from(far)])
    const latinAfter = Buffer.concat([Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), Buffer.from(far.replace('row 9', 'ROW 9'))])
    const binary = Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x00, 0x80])
    const binaryAfter = Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x00, 0x81, 0x00])
    const base: Tree = { 'n.txt': 'a\nb', 'w.txt': 'one\r\ntwo\r\n', 'l.txt': latin, 'b.bin': binary }
    const diff = realDiff(base, { 'n.txt': 'a\nc', 'w.txt': 'one\r\nTWO\r\n', 'l.txt': latinAfter, 'b.bin': binaryAfter })
    assert.match(diff, /\\ No newline at end of file/)
    assert.match(diff, /GIT binary patch/)
    const root = makeRepo(base)
    const changes = await plan(root, [{ op: 'diff', diff }])
    const after = Object.fromEntries(changes.map((c) => [c.path, c.after?.contents]))
    assert.deepEqual(after['n.txt'], Buffer.from('a\nc'))
    assert.deepEqual(after['w.txt'], Buffer.from('one\r\nTWO\r\n'))
    assert.deepEqual(after['l.txt'], latinAfter)
    assert.deepEqual(after['b.bin'], binaryAfter)
  })

  it('accepts a hand-written diff without a trailing newline and without git headers', async () => {
    const root = makeRepo({ 'h.txt': 'x\ny\n' })
    const diff = '--- a/h.txt\n+++ b/h.txt\n@@ -1,2 +1,2 @@\n x\n-y\n+z'
    assert.deepEqual(afterText(await plan(root, [{ op: 'diff', diff }])), { 'h.txt': 'x\nz\n' })
  })

  it('rejects context that does not match, with git\'s message, the hunk as detail and the actual lines', async () => {
    const diff = realDiff({ 'f.txt': 'a\nb\nc\n' }, { 'f.txt': 'a\nB\nc\n' })
    const root = makeRepo({ 'f.txt': 'a\nchanged\nc\n' })
    const err = await expectReject(root, [{ op: 'diff', diff }], 'CONTEXT_NOT_FOUND')
    assert.match(err.message, /\(git: patch failed: f\.txt:1\)$/)
    assert.equal(err.detail, '@@ -1,3 +1,3 @@\n a\n-b\n+B\n c')
    assert.deepEqual(err.regions?.map((r) => [r.start_line, r.end_line, r.lines]), [[1, 3, ['a', 'changed', 'c']]])
    assert.equal(err.path, 'f.txt')
    assert.equal(err.operation, 0)
  })

  it('does not fuzz: one changed context line is enough to reject', async () => {
    const lines = Array.from({ length: 12 }, (_, i) => `line ${i}`)
    const edited = [...lines]
    edited[6] = 'LINE 6'
    const diff = realDiff({ 'g.txt': `${lines.join('\n')}\n` }, { 'g.txt': `${edited.join('\n')}\n` })
    const drifted = [...lines]
    drifted[8] = 'line 8 (edited since)'
    const root = makeRepo({ 'g.txt': `${drifted.join('\n')}\n` })
    await expectReject(root, [{ op: 'diff', diff }], 'CONTEXT_NOT_FOUND')
  })

  it('rejects a corrupt diff as PATCH_PARSE_ERROR', async () => {
    const root = makeRepo({ 'f.txt': 'a\n' })
    await expectReject(root, [{ op: 'diff', diff: 'this is not a diff\n' }], 'PATCH_PARSE_ERROR')
    await expectReject(root, [{ op: 'diff', diff: 'diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n-b\n' }], 'PATCH_PARSE_ERROR')
  })

  it('rejects creating a file that exists and changing one that does not', async () => {
    const create = realDiff({ 'keep.txt': 'k\n' }, { 'new.txt': 'n\n' })
    const exists = makeRepo({ 'keep.txt': 'k\n', 'new.txt': 'other\n' })
    await expectReject(exists, [{ op: 'diff', diff: create }], 'FILE_EXISTS')

    const modify = realDiff({ 'gone.txt': 'g\n' }, { 'gone.txt': 'G\n' })
    const missing = makeRepo({ 'other.txt': 'o\n' })
    await expectReject(missing, [{ op: 'diff', diff: modify }], 'FILE_NOT_FOUND')
    const deleted = makeRepo({ 'gone.txt': 'g\n' })
    await expectReject(
      deleted,
      [
        { op: 'delete', path: 'gone.txt' },
        { op: 'diff', diff: modify },
      ],
      'FILE_NOT_FOUND',
    )
  })

  it('removes its scratch directory whether it succeeds or fails', async () => {
    const root = makeRepo({ 'f.txt': 'a\n' })
    const good = realDiff({ 'f.txt': 'a\n' }, { 'f.txt': 'b\n' })
    const bad = realDiff({ 'f.txt': 'x\n' }, { 'f.txt': 'y\n' })
    const tmp = tempDir('ops-tmp-')
    const saved = process.env.TMPDIR
    process.env.TMPDIR = tmp
    try {
      await plan(root, [{ op: 'diff', diff: good }])
      await expectReject(root, [{ op: 'diff', diff: bad }], 'CONTEXT_NOT_FOUND')
    } finally {
      if (saved === undefined) delete process.env.TMPDIR
      else process.env.TMPDIR = saved
    }
    assert.deepEqual(readdirSync(tmp), [])
  })
})
