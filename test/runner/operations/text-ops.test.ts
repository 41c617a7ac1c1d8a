import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { planOperations } from '../../../src/runner/operations/index.js'
import { afterText, expectReject, makeRepo, plan } from '../../helpers/operations.js'

describe('write', () => {
  it('creates a file, nested directories included, as a regular non-executable file', async () => {
    const root = makeRepo({ 'a.txt': 'a\n' })
    const changes = await plan(root, [{ op: 'write', path: 'src/deep/new.ts', contents: 'export {}\n' }])
    assert.deepEqual(changes, [{ path: 'src/deep/new.ts', before: null, after: { contents: Buffer.from('export {}\n'), mode: 0o100644 } }])
  })

  it('overwrites an existing file and keeps its executable mode', async () => {
    const root = makeRepo({ 'run.sh': { exec: '#!/bin/sh\necho old\n' } })
    const [change] = await plan(root, [{ op: 'write', path: 'run.sh', contents: '#!/bin/sh\necho new\n' }])
    assert.equal(change?.before?.mode, 0o100755)
    assert.equal(change?.after?.mode, 0o100755)
    assert.equal(change?.after?.contents.toString(), '#!/bin/sh\necho new\n')
  })

  it('reports nothing when the final state equals the disk', async () => {
    const root = makeRepo({ 'a.txt': 'same\n' })
    assert.deepEqual(await plan(root, [{ op: 'write', path: 'a.txt', contents: 'same\n' }]), [])
    assert.deepEqual(
      await plan(root, [
        { op: 'write', path: 'tmp.txt', contents: 'x' },
        { op: 'delete', path: 'tmp.txt' },
      ]),
      [],
    )
  })

  it('refuses to put a file where a directory is, or under a file', async () => {
    const root = makeRepo({ 'src/a.ts': 'a\n', 'file.txt': 'f\n' })
    await expectReject(root, [{ op: 'write', path: 'src', contents: 'x' }], 'FILE_EXISTS')
    await expectReject(root, [{ op: 'write', path: 'file.txt/child', contents: 'x' }], 'FILE_EXISTS')
    await expectReject(
      root,
      [
        { op: 'write', path: 'new/x.txt', contents: 'x' },
        { op: 'write', path: 'new', contents: 'y' },
      ],
      'FILE_EXISTS',
    )
  })

  it('lets a file removed earlier in the patch become a directory', async () => {
    const root = makeRepo({ node: 'was a file\n' })
    const changes = await plan(root, [
      { op: 'delete', path: 'node' },
      { op: 'write', path: 'node/child.txt', contents: 'now a dir\n' },
    ])
    assert.deepEqual(afterText(changes), { node: null, 'node/child.txt': 'now a dir\n' })
    assert.equal(changes[0]?.path, 'node', 'removals come first')
  })
})

describe('replace', () => {
  it('replaces every literal match and inserts the replacement verbatim ($ is not special)', async () => {
    const root = makeRepo({ 'a.txt': 'price: X, tax: X\n' })
    const changes = await plan(root, [{ op: 'replace', path: 'a.txt', find: 'X', replace: '$1 $& $$' }])
    assert.deepEqual(afterText(changes), { 'a.txt': 'price: $1 $& $$, tax: $1 $& $$\n' })
  })

  it('treats regex metacharacters in a literal find as text', async () => {
    const root = makeRepo({ 'a.txt': 'a.b a+b (a)\n' })
    const changes = await plan(root, [{ op: 'replace', path: 'a.txt', find: '(a)', replace: '[a]', count: 1 }])
    assert.deepEqual(afterText(changes), { 'a.txt': 'a.b a+b [a]\n' })
  })

  it('applies a regex globally with JS $1 semantics', async () => {
    const root = makeRepo({ 'a.ts': 'const a = 1\nconst b = 2\n' })
    const changes = await plan(root, [{ op: 'replace', path: 'a.ts', find: 'const (\\w+) = (\\d+)', replace: 'let $1 = $2 /* $$ */', regex: true, count: 2 }])
    assert.deepEqual(afterText(changes), { 'a.ts': 'let a = 1 /* $ */\nlet b = 2 /* $ */\n' })
  })

  it('rejects zero matches, a wrong count, a bad regex and a missing file', async () => {
    const root = makeRepo({ 'a.txt': 'one two two\n' })
    const nf = await expectReject(root, [{ op: 'replace', path: 'a.txt', find: 'three', replace: '3' }], 'CONTEXT_NOT_FOUND')
    assert.equal(nf.detail, 'three')
    assert.equal(nf.path, 'a.txt')
    assert.equal(nf.operation, 0)
    await expectReject(root, [{ op: 'replace', path: 'a.txt', find: 'two', replace: '2', count: 1 }], 'COUNT_MISMATCH')
    await expectReject(root, [{ op: 'replace', path: 'a.txt', find: 't(w', replace: '', regex: true }], 'INVALID_REGEX')
    await expectReject(root, [{ op: 'replace', path: 'a.txt', find: 'z+', replace: '', regex: true }], 'CONTEXT_NOT_FOUND')
    await expectReject(root, [{ op: 'replace', path: 'nope.txt', find: 'a', replace: 'b' }], 'FILE_NOT_FOUND')
  })

  it('stops a catastrophic regex quickly with REGEX_TIMEOUT', async () => {
    const root = makeRepo({ 'a.txt': `${'a'.repeat(40)}b\n` })
    const started = Date.now()
    const err = await expectReject(root, [{ op: 'replace', path: 'a.txt', find: '(a+)+$', replace: 'x', regex: true }], 'REGEX_TIMEOUT', { regexTimeoutMs: 100 })
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`)
    assert.equal(err.detail, '(a+)+$')
  })

  it('keeps CRLF line endings when the find and replacement are written with \\n', async () => {
    const root = makeRepo({ 'win.txt': 'one\r\ntwo\r\nthree\r\n' })
    const changes = await plan(root, [{ op: 'replace', path: 'win.txt', find: 'one\ntwo\n', replace: 'uno\ndos\n' }])
    assert.deepEqual(afterText(changes), { 'win.txt': 'uno\r\ndos\r\nthree\r\n' })
  })

  it('keeps a missing final newline', async () => {
    const root = makeRepo({ 'v.txt': 'version=1' })
    const changes = await plan(root, [{ op: 'replace', path: 'v.txt', find: '1', replace: '2' }])
    assert.deepEqual(afterText(changes), { 'v.txt': 'version=2' })
  })

  it('edits a non-UTF-8 file without disturbing the bytes it does not match', async () => {
    const latin1 = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' = OLD;\n'), Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x0a])])
    const root = makeRepo({ 'legacy.c': latin1 })
    const [change] = await plan(root, [{ op: 'replace', path: 'legacy.c', find: 'OLD', replace: 'NEW \u00e9' }])
    const expected = Buffer.concat([
      Buffer.from('caf'),
      Buffer.from([0xe9]),
      Buffer.from(' = NEW '),
      Buffer.from('\u00e9', 'utf8'),
      Buffer.from(';\n'),
      Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x0a]),
    ])
    assert.deepEqual(change?.after?.contents, expected)
  })
})

describe('insert', () => {
  it('inserts immediately before or after the anchor', async () => {
    const root = makeRepo({ 'a.ts': 'import a\n\nmain()\n' })
    const changes = await plan(root, [
      { op: 'insert', path: 'a.ts', after: 'import a\n', contents: 'import b\n' },
      { op: 'insert', path: 'a.ts', before: 'main()', contents: 'setup()\n' },
    ])
    assert.deepEqual(afterText(changes), { 'a.ts': 'import a\nimport b\n\nsetup()\nmain()\n' })
  })

  it('rejects a missing anchor, an ambiguous one, and both or neither of before/after', async () => {
    const root = makeRepo({ 'a.txt': 'x aa y x\n' })
    await expectReject(root, [{ op: 'insert', path: 'a.txt', after: 'zzz', contents: '1' }], 'CONTEXT_NOT_FOUND')
    await expectReject(root, [{ op: 'insert', path: 'a.txt', after: 'x', contents: '1' }], 'AMBIGUOUS_MATCH')
    // Overlapping occurrences are ambiguous too.
    const root2 = makeRepo({ 'b.txt': 'aaa\n' })
    await expectReject(root2, [{ op: 'insert', path: 'b.txt', before: 'aa', contents: '1' }], 'AMBIGUOUS_MATCH')
    await expectReject(root, [{ op: 'insert', path: 'a.txt', before: 'y', after: 'y', contents: '1' }], 'PATCH_PARSE_ERROR')
    await expectReject(root, [{ op: 'insert', path: 'a.txt', contents: '1' }], 'PATCH_PARSE_ERROR')
    await expectReject(root, [{ op: 'insert', path: 'missing.txt', after: 'y', contents: '1' }], 'FILE_NOT_FOUND')
  })

  it('converts inserted lines to CRLF in a CRLF file', async () => {
    const root = makeRepo({ 'w.txt': 'a\r\nb\r\n' })
    const changes = await plan(root, [{ op: 'insert', path: 'w.txt', after: 'a\n', contents: 'between\n' }])
    assert.deepEqual(afterText(changes), { 'w.txt': 'a\r\nbetween\r\nb\r\n' })
  })
})

describe('delete and rename', () => {
  it('deletes a file; a missing file or a directory is FILE_NOT_FOUND', async () => {
    const root = makeRepo({ 'a.txt': 'a\n', 'dir/b.txt': 'b\n' })
    const changes = await plan(root, [{ op: 'delete', path: 'a.txt' }])
    assert.deepEqual(changes, [{ path: 'a.txt', before: { contents: Buffer.from('a\n'), mode: 0o100644 }, after: null }])
    await expectReject(root, [{ op: 'delete', path: 'gone.txt' }], 'FILE_NOT_FOUND')
    await expectReject(root, [{ op: 'delete', path: 'dir' }], 'FILE_NOT_FOUND')
    await expectReject(
      root,
      [
        { op: 'delete', path: 'a.txt' },
        { op: 'delete', path: 'a.txt' },
      ],
      'FILE_NOT_FOUND',
    )
  })

  it('renames keeping bytes and mode, into new directories', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0x10, 0x0d, 0x0a])
    const root = makeRepo({ 'bin/tool': { exec: bytes } })
    const changes = await plan(root, [{ op: 'rename', from: 'bin/tool', to: 'tools/x/tool' }])
    assert.deepEqual(changes, [
      { path: 'bin/tool', before: { contents: bytes, mode: 0o100755 }, after: null },
      { path: 'tools/x/tool', before: null, after: { contents: bytes, mode: 0o100755 } },
    ])
  })

  it('rejects a missing source and an existing destination', async () => {
    const root = makeRepo({ 'a.txt': 'a\n', 'b.txt': 'b\n', 'd/c.txt': 'c\n' })
    await expectReject(root, [{ op: 'rename', from: 'zz.txt', to: 'y.txt' }], 'FILE_NOT_FOUND')
    await expectReject(root, [{ op: 'rename', from: 'a.txt', to: 'b.txt' }], 'FILE_EXISTS')
    await expectReject(root, [{ op: 'rename', from: 'a.txt', to: 'd' }], 'FILE_EXISTS')
    await expectReject(root, [{ op: 'rename', from: 'a.txt', to: 'a.txt' }], 'FILE_EXISTS')
  })
})

describe('a patch applies wholly or not at all', () => {
  it('sees earlier operations and reports the failing index, changing nothing', async () => {
    const root = makeRepo({ 'a.txt': 'alpha\n' })
    const ok = await plan(root, [
      { op: 'write', path: 'b.txt', contents: 'beta\n' },
      { op: 'replace', path: 'b.txt', find: 'beta', replace: 'BETA' },
      { op: 'rename', from: 'b.txt', to: 'c.txt' },
      { op: 'insert', path: 'c.txt', before: 'BETA', contents: '> ' },
    ])
    assert.deepEqual(afterText(ok), { 'c.txt': '> BETA\n' })

    const err = await expectReject(
      root,
      [
        { op: 'write', path: 'b.txt', contents: 'beta\n' },
        { op: 'delete', path: 'a.txt' },
        { op: 'replace', path: 'a.txt', find: 'alpha', replace: 'x' },
      ],
      'FILE_NOT_FOUND',
    )
    assert.equal(err.operation, 2)
    assert.equal(err.path, 'a.txt')
  })

  it('does not write even a successful plan to the workspace', async () => {
    const root = makeRepo({ 'a.txt': 'a\n' })
    const changes = await planOperations(root, [{ op: 'write', path: 'a.txt', contents: 'b\n' }])
    assert.equal(changes.length, 1)
    const { readFileSync } = await import('node:fs')
    assert.equal(readFileSync(`${root}/a.txt`, 'utf8'), 'a\n')
  })
})
