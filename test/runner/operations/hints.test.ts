import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { git, makeRepo, expectReject } from '../../helpers/operations.js'

const patch = (...body: string[]) => ({ op: 'apply_patch' as const, patch: ['*** Begin Patch', ...body, '*** End Patch'].join('\n') })

/** Handlers that differ in a word or two, as the code a patch misremembers does. */
const handler = (name: string, table: string) =>
  [`export async function ${name}(req, res) {`, '  const id = req.params.id', `  const row = await db.${table}.find(id)`, '  if (!row) return res.status(404).end()', '  res.json(row)', '}', ''].join('\n')
const HANDLERS = handler('getUser', 'users') + handler('getTeam', 'teams') + handler('getOrg', 'orgs')
const fileLines = (from: number, to: number) => HANDLERS.split('\n').slice(from - 1, to)

describe('rejections carry the closest regions of the actual file', () => {
  it('V4A context not found: the region it most resembles, with its line numbers and lines', async () => {
    const root = makeRepo({ 'api.js': HANDLERS })
    // The author remembers getTeam's lookup as `findById`.
    const err = await expectReject(
      root,
      [patch('*** Update File: api.js', '@@', '   const id = req.params.id', '   const row = await db.teams.findById(id)', '-  if (!row) return res.status(404).end()', '+  if (!row) return res.status(410).end()')],
      'CONTEXT_NOT_FOUND',
    )
    const [best, ...others] = err.regions ?? []
    assert.ok(best, 'no region')
    assert.deepEqual([best.start_line, best.end_line, best.lines], [8, 10, fileLines(8, 10)])
    assert.ok(best.similarity > 0.8 && best.similarity < 1, String(best.similarity))
    for (const r of others) assert.ok(r.similarity <= best.similarity, 'regions come best first')
    assert.ok(others.every((r) => r.start_line !== 8), 'regions do not repeat')
  })

  it('V4A context already passed: found earlier with similarity 1, and the message says after which line', async () => {
    const root = makeRepo({ 'api.js': HANDLERS })
    const err = await expectReject(
      root,
      [patch('*** Update File: api.js', '@@', '-  const row = await db.orgs.find(id)', '+  const row = await db.orgs.get(id)', '@@', '-  const row = await db.users.find(id)', '+  const row = await db.users.get(id)')],
      'CONTEXT_NOT_FOUND',
    )
    assert.match(err.message, /after line 15/)
    assert.deepEqual(err.regions?.[0], { start_line: 3, end_line: 3, similarity: 1, lines: ['  const row = await db.users.find(id)'] })
  })

  it('V4A anchor not found: the line it most resembles', async () => {
    const root = makeRepo({ 'api.js': HANDLERS })
    const err = await expectReject(root, [patch('*** Update File: api.js', '@@ export async function getTeams(req, res) {', '-  res.json(row)', '+  res.json({ row })')], 'CONTEXT_NOT_FOUND')
    assert.equal(err.detail, '@@ export async function getTeams(req, res) {')
    assert.equal(err.regions?.[0]?.start_line, 7)
    assert.deepEqual(err.regions?.[0]?.lines, ['export async function getTeam(req, res) {'])
  })

  it('V4A ambiguous context: each candidate with three lines either side', async () => {
    const root = makeRepo({ 'api.js': HANDLERS })
    const err = await expectReject(root, [patch('*** Update File: api.js', '@@', '-  res.json(row)', '+  res.json({ row })')], 'AMBIGUOUS_MATCH')
    assert.deepEqual(err.candidates, [5, 11, 17])
    assert.deepEqual(
      err.regions?.map((r) => [r.start_line, r.end_line, r.similarity]),
      [
        [2, 8, 1],
        [8, 14, 1],
        [14, 18, 1],
      ],
    )
    assert.deepEqual(err.regions?.[1]?.lines, fileLines(8, 14))
  })

  it('insert and replace: the closest lines to an anchor or text that is not there', async () => {
    const root = makeRepo({ 'api.js': HANDLERS })
    const insert = await expectReject(root, [{ op: 'insert', path: 'api.js', contents: '  log(id)\n', after: '  const id = req.param.id\n' }], 'CONTEXT_NOT_FOUND')
    assert.deepEqual(insert.regions?.[0]?.lines, ['  const id = req.params.id'])
    const replace = await expectReject(root, [{ op: 'replace', path: 'api.js', find: 'await db.org.find(id)', replace: 'x' }], 'CONTEXT_NOT_FOUND')
    assert.deepEqual([replace.regions?.[0]?.start_line, replace.regions?.[0]?.lines], [15, ['  const row = await db.orgs.find(id)']])
    const ambiguous = await expectReject(root, [{ op: 'insert', path: 'api.js', contents: '  log(id)\n', after: '  const id = req.params.id\n' }], 'AMBIGUOUS_MATCH')
    assert.deepEqual(ambiguous.regions?.[0], { start_line: 1, end_line: 5, similarity: 1, lines: fileLines(1, 5) })
  })

  it('a failed diff hunk: the hunk as detail and the nearest actual lines', async () => {
    const root = makeRepo({ 'api.js': HANDLERS, 'other.txt': 'one\ntwo\n' })
    // A diff made against a version of api.js whose getTeam looked its row up by name.
    const base = HANDLERS.replace('db.teams.find(id)', 'db.teams.byName(id)')
    const stale = makeRepo({ 'api.js': base, 'other.txt': 'one\ntwo\n' })
    git(stale, 'mv', 'other.txt', 'renamed.txt')
    writeFileSync(`${stale}/api.js`, base.replace('byName(id)\n  if (!row) return res.status(404)', 'byName(id)\n  if (!row) return res.status(410)'))
    const diff = git(stale, 'diff', 'HEAD', '-M')
    const err = await expectReject(root, [{ op: 'diff', diff }], 'CONTEXT_NOT_FOUND')
    assert.equal(err.path, 'api.js')
    assert.match(err.message, /^diff does not apply: hunk @@ -\d+,\d+ \+\d+,\d+ @@.* does not match api\.js \(git: patch failed: api\.js:\d+\)$/)
    assert.match(err.detail ?? '', /^@@ [^\n]+\n(.*\n)*- {2}if \(!row\) return res\.status\(404\)\.end\(\)\n\+ {2}if \(!row\) return res\.status\(410\)\.end\(\)/)
    const [best] = err.regions ?? []
    assert.ok(best && best.similarity > 0.8 && best.similarity < 1, JSON.stringify(err.regions))
    assert.ok(best.start_line <= 9 && best.end_line >= 10, JSON.stringify(best))
    assert.deepEqual(best.lines, fileLines(best.start_line, best.end_line))
  })
})

describe('hints stay small whatever the file holds', () => {
  it('caps lines, regions and the whole at a few KB', async () => {
    const long = (n: number) => `${'x'.repeat(5000)} ${n}`
    const big = Array.from({ length: 400 }, (_, i) => long(i % 40)).join('\n') + '\n'
    const root = makeRepo({ 'big.txt': big })
    const chunk = Array.from({ length: 40 }, (_, i) => ` ${long(i)}`)
    const ambiguous = await expectReject(root, [patch('*** Update File: big.txt', '@@', ...chunk, '+tail')], 'AMBIGUOUS_MATCH')
    assert.equal(ambiguous.candidates?.length, 10)
    const missing = await expectReject(root, [patch('*** Update File: big.txt', '@@', ...chunk.map((l) => `${l}!`), '+tail')], 'CONTEXT_NOT_FOUND')
    for (const err of [ambiguous, missing]) {
      const regions = err.regions ?? []
      assert.ok(regions.length >= 1 && regions.length <= 3)
      assert.ok(regions.every((r) => r.lines.length <= 24 && r.lines.every((l) => l.length <= 201)))
      assert.ok(JSON.stringify(regions).length < 5000, `${JSON.stringify(regions).length} bytes of regions`)
      assert.equal(regions[0]?.lines[0], `${'x'.repeat(200)}…`)
    }
  })
})
