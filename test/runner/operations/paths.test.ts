import assert from 'node:assert/strict'
import { mkdirSync, realpathSync, symlinkSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { RejectError } from '../../../src/runner/operations/index.js'
import { checkRelativePath, checkSymlinkTarget, resolveInside } from '../../../src/runner/workspace/paths.js'
import { makeRepo, tempDir } from '../../helpers/operations.js'

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

  it('refuses .. segments itself, where walking the ancestors stops early or ends at the root or above it', () => {
    const root = makeRepo({ 'sub/f.txt': 'f', 'file.txt': 'x' })
    const real = realpathSync(root)
    // Each names a place above the root, the root itself or .git. Where the ancestor walk stops at a
    // missing directory (missing/..) or a regular file (file.txt/..), or climbs back out of a real
    // one (sub/..), the realpath check sees a directory inside the root: only the ".." check is left.
    const cases = [
      'missing/../../x',
      'sub/../..',
      'sub/../../x',
      'sub/..',
      'missing/..',
      'missing/deeper/../../../x',
      'file.txt/../../x',
      'sub/../sub/../../x',
      'missing/../.git/config',
      'sub/../.git/HEAD',
    ]
    const letThrough: string[] = []
    for (const p of cases) {
      try {
        const resolved = resolveInside(root, p)
        letThrough.push(`${p} -> ${path.relative(real, resolved) || '(the root)'}`)
      } catch (e) {
        assert.ok(e instanceof RejectError && e.code === 'PATH_OUTSIDE_WORKSPACE', `${p}: ${String(e)}`)
      }
    }
    assert.deepEqual(letThrough, [])
  })

  it('refuses what checkRelativePath refuses', () => {
    const root = tempDir()
    mkdirSync(path.join(root, 'a'))
    for (const p of ['../x', '/abs', '.git/HEAD']) {
      assert.throws(() => resolveInside(root, p), (e: unknown) => e instanceof RejectError && e.code === 'PATH_OUTSIDE_WORKSPACE', p)
    }
  })
})
