import assert from 'node:assert/strict'
import { mkdirSync, symlinkSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { RejectError } from '../../../src/runner/operations/index.js'
import { checkRelativePath, checkSymlinkTarget, resolveInside } from '../../../src/runner/paths.js'
import { makeRepo, tempDir } from './helpers.js'

describe('checkRelativePath', () => {
  it('accepts ordinary relative paths', () => {
    for (const p of ['a.txt', 'src/app.ts', '.github/workflows/ci.yml', '.gitignore', 'a/.gitkeep', 'dir.git/x', 'weird name (1).md', 'ünï/cödé.ts', '...', '..a']) {
      assert.equal(checkRelativePath(p), null, p)
    }
  })

  it('refuses escapes, absolute paths, NUL, .git and empty-segment tricks', () => {
    const bad = [
      '',
      '/etc/passwd',
      '../x',
      'a/../../x',
      'a/..',
      '..',
      'a\0b',
      '.git/config',
      'sub/.git/hooks/pre-commit',
      '.GIT/config',
      '.Git',
      '.git./config',
      '.git /x',
      'GIT~1/config',
      '.g\u200cit/config',
      'a//b',
      'a/',
      './a',
      'a/./b',
      'a\\..\\b',
      'C:/x',
      'a\nb',
      `${'x'.repeat(256)}/y`,
    ]
    for (const p of bad) assert.notEqual(checkRelativePath(p), null, JSON.stringify(p))
  })
})

describe('checkSymlinkTarget', () => {
  it('allows links that stay inside the workspace', () => {
    assert.equal(checkSymlinkTarget('a/link', '../b/c.txt'), null)
    assert.equal(checkSymlinkTarget('link', 'docs/readme.md'), null)
  })

  it('refuses absolute, escaping and .git targets', () => {
    for (const [p, t] of [
      ['link', '/etc/passwd'],
      ['link', '../outside'],
      ['a/link', '../../outside'],
      ['a/link', '../.git/config'],
      ['link', '.'],
      ['link', ''],
    ] as const) {
      assert.notEqual(checkSymlinkTarget(p, t), null, `${p} -> ${t}`)
    }
  })
})

describe('resolveInside', () => {
  it('returns the absolute path under the real root', () => {
    const root = makeRepo({ 'src/a.ts': 'a' })
    assert.equal(resolveInside(root, 'src/a.ts'), path.join(root, 'src', 'a.ts'))
    assert.equal(resolveInside(root, 'new/dir/file'), path.join(root, 'new', 'dir', 'file'))
  })

  it('refuses paths through a symlinked directory, inside or outside the root', () => {
    const outside = tempDir('ops-outside-')
    const root = makeRepo({ 'real/a.txt': 'a' })
    symlinkSync(outside, path.join(root, 'out'))
    symlinkSync('real', path.join(root, 'alias'))
    for (const p of ['out/x', 'alias/a.txt', 'out/deeper/x']) {
      assert.throws(() => resolveInside(root, p), (e: unknown) => e instanceof RejectError && e.code === 'PATH_OUTSIDE_WORKSPACE', p)
    }
    // The link itself may be named (to delete or replace it), just not traversed.
    assert.equal(resolveInside(root, 'out'), path.join(root, 'out'))
  })

  it('refuses what checkRelativePath refuses', () => {
    const root = tempDir()
    mkdirSync(path.join(root, 'a'))
    for (const p of ['../x', '/abs', '.git/HEAD']) {
      assert.throws(() => resolveInside(root, p), (e: unknown) => e instanceof RejectError && e.code === 'PATH_OUTSIDE_WORKSPACE', p)
    }
  })
})
