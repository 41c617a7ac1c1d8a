import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { afterText, expectReject, makeRepo, plan } from '../../helpers/operations.js'

const patch = (...body: string[]) => ({ op: 'apply_patch' as const, patch: ['*** Begin Patch', ...body, '*** End Patch'].join('\n') })

const PY = ['import os', '', 'class Greeter:', '    def hello(self):', '        return "hi"', '', '    def bye(self):', '        return "bye"', ''].join('\n')

describe('V4A apply_patch: files', () => {
  it('adds, deletes and updates files in one patch', async () => {
    const root = makeRepo({ 'app.py': PY, 'old.txt': 'old\n' })
    const changes = await plan(root, [
      patch(
        '*** Add File: pkg/new.py',
        '+def f():',
        '+    return 1',
        '*** Delete File: old.txt',
        '*** Update File: app.py',
        '@@ class Greeter:',
        '     def hello(self):',
        '-        return "hi"',
        '+        return "hello"',
      ),
    ])
    assert.deepEqual(afterText(changes), {
      'old.txt': null,
      'app.py': PY.replace('return "hi"', 'return "hello"'),
      'pkg/new.py': 'def f():\n    return 1\n',
    })
  })

  it('moves a file with Move to, keeping its mode, with or without edits', async () => {
    const root = makeRepo({ 'bin/run': { exec: 'echo a\necho b\n' }, 'docs/a.md': '# A\n' })
    const changes = await plan(root, [
      patch('*** Update File: bin/run', '*** Move to: scripts/run.sh', '@@', '-echo b', '+echo c', '*** Update File: docs/a.md', '*** Move to: docs/b.md'),
    ])
    const byPath = Object.fromEntries(changes.map((c) => [c.path, c.after]))
    assert.equal(byPath['bin/run'], null)
    assert.equal(byPath['docs/a.md'], null)
    assert.deepEqual(byPath['scripts/run.sh'], { contents: Buffer.from('echo a\necho c\n'), mode: 0o100755 })
    assert.deepEqual(byPath['docs/b.md'], { contents: Buffer.from('# A\n'), mode: 0o100644 })
  })

  it('lets later hunks see earlier ones (add then update)', async () => {
    const root = makeRepo({ 'x.txt': 'x\n' })
    const changes = await plan(root, [patch('*** Add File: n.txt', '+one', '+two', '*** Update File: n.txt', '@@', ' one', '-two', '+2')])
    assert.deepEqual(afterText(changes), { 'n.txt': 'one\n2\n' })
  })

  it('rejects adding an existing file, deleting or updating a missing one, moving onto a file', async () => {
    const root = makeRepo({ 'a.txt': 'a\n', 'b.txt': 'b\n' })
    await expectReject(root, [patch('*** Add File: a.txt', '+x')], 'FILE_EXISTS')
    await expectReject(root, [patch('*** Delete File: nope.txt')], 'FILE_NOT_FOUND')
    await expectReject(root, [patch('*** Update File: nope.txt', '@@', '-a', '+b')], 'FILE_NOT_FOUND')
    await expectReject(root, [patch('*** Update File: a.txt', '*** Move to: b.txt', '@@', '-a', '+z')], 'FILE_EXISTS')
  })

  it('is all-or-nothing: a failing second hunk leaves no trace of the first', async () => {
    const root = makeRepo({ 'a.txt': 'a\n' })
    const err = await expectReject(
      root,
      [{ op: 'write', path: 'w.txt', contents: 'w' }, patch('*** Delete File: a.txt', '*** Update File: a.txt', '@@', '-a', '+b')],
      'FILE_NOT_FOUND',
    )
    assert.equal(err.operation, 1)
  })
})

describe('V4A apply_patch: locating chunks', () => {
  const LINES = ['alpha', 'beta', 'gamma', 'delta', 'alpha', 'beta', 'gamma', 'delta', ''].join('\n')

  it('searches forward from the previous chunk, so repeated context lands in order', async () => {
    const root = makeRepo({ 'r.txt': LINES })
    // The first chunk reaches into the second block to be unique; the second has only one place left.
    const changes = await plan(root, [patch('*** Update File: r.txt', '@@', ' alpha', '-beta', '+BETA1', ' gamma', ' delta', ' alpha', '@@', '-beta', '+BETA2')])
    assert.deepEqual(afterText(changes), { 'r.txt': LINES.replace('beta', 'BETA1').replace('beta', 'BETA2') })
  })

  it('locates @@ anchors first, nested anchors in turn', async () => {
    const src = ['class A {', '  run() {', '    go()', '  }', '}', 'class B {', '  stop() {', '    go()', '  }', '  run() {', '    go()', '  }', '}', ''].join('\n')
    const root = makeRepo({ 'c.ts': src })
    const changes = await plan(root, [patch('*** Update File: c.ts', '@@ class B {', '@@   run() {', '-    go()', '+    goFaster()')])
    const lines = src.split('\n')
    lines[10] = '    goFaster()'
    assert.deepEqual(afterText(changes), { 'c.ts': lines.join('\n') })
  })

  it('matches End of File chunks at the end of the file', async () => {
    const root = makeRepo({ 'e.txt': 'end\nmiddle\nend\n' })
    const changes = await plan(root, [patch('*** Update File: e.txt', '@@', '-end', '+END', '+appended', '*** End of File')])
    assert.deepEqual(afterText(changes), { 'e.txt': 'end\nmiddle\nEND\nappended\n' })
  })

  it('appends a pure addition after a bare @@ at the end, and right after an anchor', async () => {
    const root = makeRepo({ 'p.txt': 'head\nbody\ntail\n' })
    assert.deepEqual(afterText(await plan(root, [patch('*** Update File: p.txt', '@@', '+more')])), { 'p.txt': 'head\nbody\ntail\nmore\n' })
    assert.deepEqual(afterText(await plan(root, [patch('*** Update File: p.txt', '@@ head', '+inserted')])), {
      'p.txt': 'head\ninserted\nbody\ntail\n',
    })
  })

  it('reads "@@ " with only blanks after it as a bare header', async () => {
    const root = makeRepo({ 'p.txt': 'a\n\nb\n' })
    assert.deepEqual(afterText(await plan(root, [patch('*** Update File: p.txt', '@@   ', '-b', '+B')])), { 'p.txt': 'a\n\nB\n' })
    assert.deepEqual(afterText(await plan(root, [patch('*** Update File: p.txt', '@@   ', '+c')])), { 'p.txt': 'a\n\nb\nc\n' })
  })

  it('tolerates trailing whitespace differences', async () => {
    const root = makeRepo({ 't.txt': 'keep   \nold\t\nnext\n' })
    const changes = await plan(root, [patch('*** Update File: t.txt', '@@', ' keep', '-old', '+new', ' next')])
    // The context line keeps the file's own trailing spaces.
    assert.deepEqual(afterText(changes), { 't.txt': 'keep   \nnew\nnext\n' })
  })

  it('tolerates surrounding whitespace differences (re-indented context)', async () => {
    const root = makeRepo({ 'i.py': 'def f():\n        x = 1\n        return x\n' })
    const changes = await plan(root, [patch('*** Update File: i.py', '@@', ' def f():', '-    x = 1', '+        x = 2', '     return x')])
    assert.deepEqual(afterText(changes), { 'i.py': 'def f():\n        x = 2\n        return x\n' })
  })

  it('folds Unicode dashes, quotes and spaces to ASCII when nothing closer matches', async () => {
    const root = makeRepo({ 'u.md': 'Title \u2014 \u201cquoted\u201d it\u2019s\u00a0here\nbody\n' })
    const changes = await plan(root, [patch('*** Update File: u.md', '@@', ' Title - "quoted" it\'s here', '-body', '+BODY')])
    assert.deepEqual(afterText(changes), { 'u.md': 'Title \u2014 \u201cquoted\u201d it\u2019s\u00a0here\nBODY\n' })
  })

  it('prefers an exact match later in the file over a fuzzy one earlier', async () => {
    const root = makeRepo({ 'f.txt': 'x = 1  \nsep\nx = 1\n' })
    const changes = await plan(root, [patch('*** Update File: f.txt', '@@', '-x = 1', '+x = 2')])
    assert.deepEqual(afterText(changes), { 'f.txt': 'x = 1  \nsep\nx = 2\n' })
  })

  it('ignores blank lines the patch leaves after a chunk', async () => {
    const root = makeRepo({ 'b.txt': 'a\nb\n', 'c.txt': 'c\n' })
    const text = ['*** Begin Patch', '*** Update File: b.txt', '@@', '-a', '+A', '', '*** Update File: c.txt', '@@', '-c', '+C', '*** End Patch'].join('\n')
    assert.deepEqual(afterText(await plan(root, [{ op: 'apply_patch', patch: text }])), { 'b.txt': 'A\nb\n', 'c.txt': 'C\n' })
  })

  it('rejects missing context with the chunk as detail, and a missing anchor', async () => {
    const root = makeRepo({ 'a.txt': 'one\ntwo\n' })
    const err = await expectReject(root, [patch('*** Update File: a.txt', '@@', ' one', '-three', '+3')], 'CONTEXT_NOT_FOUND')
    assert.equal(err.detail, ' one\n-three\n+3')
    assert.equal(err.path, 'a.txt')
    const anchor = await expectReject(root, [patch('*** Update File: a.txt', '@@ def missing():', '-one', '+1')], 'CONTEXT_NOT_FOUND')
    assert.equal(anchor.detail, '@@ def missing():')
    // Chunks only search forward: the second cannot find what the first already passed.
    await expectReject(root, [patch('*** Update File: a.txt', '@@', '-two', '+2', '@@', '-one', '+1')], 'CONTEXT_NOT_FOUND')
  })
})

describe('V4A apply_patch: bytes and line endings', () => {
  it('keeps CRLF line endings', async () => {
    const root = makeRepo({ 'w.txt': 'one\r\ntwo\r\nthree\r\n' })
    const changes = await plan(root, [patch('*** Update File: w.txt', '@@', ' one', '-two', '+TWO', '+two and a half')])
    assert.deepEqual(afterText(changes), { 'w.txt': 'one\r\nTWO\r\ntwo and a half\r\nthree\r\n' })
  })

  it('accepts a patch sent with CRLF line endings', async () => {
    const root = makeRepo({ 'l.txt': 'one\ntwo\n' })
    const text = ['*** Begin Patch', '*** Update File: l.txt', '@@', ' one', '-two', '+2', '*** End Patch', ''].join('\r\n')
    assert.deepEqual(afterText(await plan(root, [{ op: 'apply_patch', patch: text }])), { 'l.txt': 'one\n2\n' })
  })

  it('keeps a missing final newline', async () => {
    const root = makeRepo({ 'n.txt': 'a\nb' })
    const changes = await plan(root, [patch('*** Update File: n.txt', '@@', ' a', '-b', '+c', '*** End of File')])
    assert.deepEqual(afterText(changes), { 'n.txt': 'a\nc' })
  })

  it('edits a non-UTF-8 file leaving the other bytes exact', async () => {
    const before = Buffer.concat([Buffer.from('name = "Jos'), Buffer.from([0xe9]), Buffer.from('"\nold = 1\n'), Buffer.from([0xfe, 0xff, 0x0a])])
    const root = makeRepo({ 'l1.cfg': before })
    const [change] = await plan(root, [patch('*** Update File: l1.cfg', '@@', '-old = 1', '+new = 2')])
    const expected = Buffer.concat([Buffer.from('name = "Jos'), Buffer.from([0xe9]), Buffer.from('"\nnew = 2\n'), Buffer.from([0xfe, 0xff, 0x0a])])
    assert.deepEqual(change?.after?.contents, expected)
  })

  it('keeps a UTF-8 byte order mark', async () => {
    const root = makeRepo({ 'bom.txt': '\ufeffa\nb\n' })
    const [change] = await plan(root, [patch('*** Update File: bom.txt', '@@', ' a', '-b', '+B')])
    assert.deepEqual(change?.after?.contents, Buffer.from('\ufeffa\nB\n'))
  })
})

describe('V4A apply_patch: parse errors', () => {
  const root = makeRepo({ 'a.txt': 'a\n' })
  const cases: Array<[string, string]> = [
    ['no begin marker', '*** Update File: a.txt\n@@\n-a\n+b\n*** End Patch'],
    ['no end marker', '*** Begin Patch\n*** Update File: a.txt\n@@\n-a\n+b'],
    ['unknown header', '*** Begin Patch\n*** Rename File: a.txt\n*** End Patch'],
    ['update without chunks', '*** Begin Patch\n*** Update File: a.txt\n*** End Patch'],
    ['no files at all', '*** Begin Patch\n*** End Patch'],
    ['line without a prefix', '*** Begin Patch\n*** Update File: a.txt\n@@\n-a\n+b\nstray\n*** End Patch'],
    ['bad chunk header', '*** Begin Patch\n*** Update File: a.txt\n@@@ x\n-a\n*** End Patch'],
    ['empty chunk', '*** Begin Patch\n*** Update File: a.txt\n@@\n*** End of File\n*** End Patch'],
  ]
  for (const [name, text] of cases) {
    it(`rejects ${name}`, async () => {
      const err = await expectReject(root, [{ op: 'apply_patch', patch: text }], 'PATCH_PARSE_ERROR')
      assert.equal(typeof err.detail, 'string')
    })
  }

  it('names the offending line', async () => {
    const err = await expectReject(root, [{ op: 'apply_patch', patch: cases[5]?.[1] ?? '' }], 'PATCH_PARSE_ERROR')
    assert.equal(err.detail, 'stray')
    assert.match(err.message, /line 6/)
  })
})
