import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { refFormatProblem, tagNameProblem } from '../../../src/runner/workspace/tag-name.js'

const run = promisify(execFile)

/** git's own verdict on a full ref name. */
async function gitAccepts(refname: string): Promise<boolean> {
  try {
    await run('git', ['check-ref-format', refname], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } })
    return true
  } catch {
    return false
  }
}

// `npm run soak` multiplies the work (GHOST_SOAK_FACTOR); `npm test` runs it once.
const SOAK = Number(process.env.GHOST_SOAK_FACTOR ?? 1)

describe('tag names', () => {
  it('refuses names that would shadow a branch, HEAD-like names and full ref names', () => {
    const branches = ['main', 'feature/x']
    for (const name of ['main', 'feature/x', 'HEAD', 'FETCH_HEAD', 'ORIG_HEAD', 'MERGE_HEAD', 'CHERRY_PICK_HEAD', 'REVERT_HEAD', 'BISECT_HEAD', 'REBASE_HEAD', 'AUTO_MERGE', 'head', 'Fetch_Head', '@', 'refs/heads/main', 'refs/tags/v1', 'refs/x']) {
      assert.notEqual(tagNameProblem(name, branches), null, name)
    }
    for (const name of ['v1', 'v1.0.0', 'release/2024-01', 'ghost/main', 'main2', 'mainline', 'ahead', 'overhead', 'HEADS', 'heads/x', 'x/refs/y', 'a+b', 'A_B']) {
      assert.equal(tagNameProblem(name, branches), null, name)
    }
  })

  it('refuses names git reads as a commit id, since a tag so named would win over the commit', async () => {
    // In a real repository: a tag named like a commit's abbreviation makes that abbreviation mean the tag.
    const dir = await mkdtemp(join(tmpdir(), 'gr-tag-'))
    const g = async (...args: string[]) => (await run('git', ['-C', dir, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', HOME: dir } })).stdout.trim()
    try {
      await g('init', '-q')
      await g('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'one')
      const first = await g('rev-parse', 'HEAD')
      await g('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'two')
      const short = first.slice(0, 7)
      assert.equal(await g('rev-parse', `${short}^{commit}`), first)
      await g('tag', short, 'HEAD')
      assert.notEqual(await g('rev-parse', `${short}^{commit}`), first, 'the tag shadows the abbreviation')
      assert.notEqual(tagNameProblem(short, []), null, short)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    for (const name of ['abcd', 'ABCD', 'deadbeef', '3f2a9c1', '0123', 'a'.repeat(40), 'f'.repeat(64), 'v1.0-3-gabcdef1', 'x-gABCD']) {
      assert.match(tagNameProblem(name, []) ?? '', /reads as a commit id/, name)
    }
    for (const name of ['abc', 'v1234', 'beefy', 'ghost/abcd', 'abcd/x', 'f'.repeat(65), 'v1.0-3-g', 'v1-gabc', 'release-2024']) {
      assert.equal(tagNameProblem(name, []), null, name)
    }
  })

  it('keeps to a safe alphabet stricter than git: no shell metacharacters, no leading "-"', () => {
    for (const name of ['v1$x', 'v1`id`', '$(touch x)', 'a(b)', 'v1;rm', 'a b', '-d', '--delete', 'é', 'a\u0000b', 'x'.repeat(256), '']) {
      assert.notEqual(tagNameProblem(name, []), null, JSON.stringify(name))
    }
  })

  it('follows git check-ref-format on hand-picked names', async () => {
    const names = [
      'refs/tags/v1', 'refs/tags/a..b', 'refs/tags/a.lock', 'refs/tags/a.lock/b', 'refs/tags/.a', 'refs/tags/a/.b', 'refs/tags/a.',
      'refs/tags/a/', 'refs/tags//a', '/refs/tags/a', 'refs/tags/a@{b', 'refs/tags/a@b', 'refs/tags/@', '@', 'main', 'refs/tags/a b',
      'refs/tags/a~1', 'refs/tags/a^', 'refs/tags/a:b', 'refs/tags/a?', 'refs/tags/a*', 'refs/tags/a[b', 'refs/tags/a\\b',
      'refs/tags/a\tb', 'refs/tags/a\u007fb', 'refs/tags/é', 'refs/tags/a{b', 'refs/tags/a}b', 'refs/tags/.', 'refs/tags/..',
      'refs/tags/a/..', 'refs/tags/lock', 'refs/tags/.lock', 'refs/tags/a-', 'refs/tags/-a', 'a/b', 'refs/tags/x.lockx',
    ]
    for (const name of names) assert.equal(refFormatProblem(name) === null, await gitAccepts(name), JSON.stringify(name))
  })

  it('follows git check-ref-format on random names (property)', { timeout: 120_000 * SOAK }, async (t) => {
    const seed = Number(process.env.GHOST_FC_SEED ?? Date.now() % 2 ** 31)
    t.diagnostic(`fast-check seed ${seed} (GHOST_FC_SEED=${seed} replays it)`)
    // Mostly the characters git treats specially, so the rules' edges are hit often.
    const char = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('.', '/', '@', '{', 'l', 'o', 'c', 'k', 'a', '-', '_') },
      { weight: 2, arbitrary: fc.constantFrom('~', '^', ':', '?', '*', '[', '\\', ' ', '\t', '\u007f', '\u0001', '}', '$', '`', 'é') },
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
    )
    const body = fc.array(char, { minLength: 1, maxLength: 14 }).map((cs) => cs.join(''))
    const name = fc.oneof(body.map((b) => `refs/tags/${b}`), body)
    const names = fc.sample(name, { numRuns: 400 * SOAK, seed }).filter((n) => !n.startsWith('-') && !n.includes('\0'))
    const mismatches: string[] = []
    for (let i = 0; i < names.length; i += 16) {
      await Promise.all(
        names.slice(i, i + 16).map(async (n) => {
          const ours = refFormatProblem(n) === null
          if (ours !== (await gitAccepts(n))) mismatches.push(`${JSON.stringify(n)}: ours ${ours ? 'accepts' : 'refuses'}, git the other`)
        }),
      )
    }
    assert.deepEqual(mismatches, [])
  })
})
