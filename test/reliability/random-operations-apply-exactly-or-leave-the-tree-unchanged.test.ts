import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'
import fc from 'fast-check'
import type { Operation } from '../../src/schemas/patch.js'
import { enqueue, git, head, makeWorkspace, openTestStore, patch, runNext, runnerConfig, status, workspace } from '../helpers/git.js'

// A small world, so operations often meet: the same few paths (one directory nested in
// another), text from a few chunks that include CRLF and lines without a final newline.
const PATHS = ['a.txt', 'b.txt', 'd/c.txt', 'd/e/f.txt']
const CHUNKS = ['a', 'b', 'ab', 'x', '\n', '\r\n']
const text = fc.array(fc.constantFrom(...CHUNKS), { maxLength: 8 }).map((c) => c.join(''))
const needle = fc.constantFrom('a', 'b', 'ab', '\n')
const filePath = fc.constantFrom(...PATHS)

// Weighted so that edits often meet text they match (several times, or not at all) and about
// half the patches apply.
const operation: fc.Arbitrary<Operation> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('write' as const), path: filePath, contents: text }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('replace' as const), path: filePath, find: needle, replace: text, count: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined, freq: 2 }) }, { requiredKeys: ['op', 'path', 'find', 'replace'] }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('insert' as const), path: filePath, contents: text, after: needle }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('insert' as const), path: filePath, contents: text, before: needle }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('delete' as const), path: filePath }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('rename' as const), from: filePath, to: filePath }), weight: 1 },
) as fc.Arbitrary<Operation>
const tree = fc.dictionary(filePath, text, { minKeys: 2, maxKeys: 4 })

type Tree = Map<string, string>

// The specification, written independently of the planner: a file whose every line ends in CRLF
// takes the patch's '\n' as CRLF; anything else is matched as written.
const eolOf = (s: string) => {
  const lf = s.split('\n').length - 1
  const crlf = s.split('\r\n').length - 1
  return lf > 0 && lf === crlf ? '\r\n' : '\n'
}
const inEol = (s: string, eol: string) => (eol === '\n' ? s : s.replace(/\r?\n/g, '\r\n'))

/** The tree after `ops`, or null when the patch must be rejected as a whole. */
function model(start: Tree, ops: Operation[]): Tree | null {
  const t = new Map(start)
  for (const op of ops) {
    if (op.op === 'write') t.set(op.path, op.contents)
    else if (op.op === 'delete') {
      if (!t.delete(op.path)) return null
    } else if (op.op === 'rename') {
      const from = t.get(op.from)
      if (from === undefined || op.from === op.to || t.has(op.to)) return null
      t.delete(op.from)
      t.set(op.to, from)
    } else if (op.op === 'replace') {
      const s = t.get(op.path)
      if (s === undefined) return null
      const eol = eolOf(s)
      const parts = s.split(inEol(op.find, eol))
      if (parts.length === 1 || (op.count !== undefined && op.count !== parts.length - 1)) return null
      t.set(op.path, parts.join(inEol(op.replace, eol)))
    } else if (op.op === 'insert') {
      const s = t.get(op.path)
      if (s === undefined) return null
      const eol = eolOf(s)
      const anchor = inEol((op.before ?? op.after)!, eol)
      const at = s.indexOf(anchor)
      if (at === -1 || s.indexOf(anchor, at + 1) !== -1) return null
      const cut = op.before !== undefined ? at : at + anchor.length
      t.set(op.path, s.slice(0, cut) + inEol(op.contents, eol) + s.slice(cut))
    } else return null
  }
  return t
}

function readTree(root: string): Tree {
  const out: Tree = new Map()
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (dir === root && e.name === '.git') continue
      const abs = path.join(dir, e.name)
      if (e.isDirectory()) walk(abs)
      else out.set(path.relative(root, abs), readFileSync(abs, 'utf8'))
    }
  }
  walk(root)
  return out
}

// `npm run soak` multiplies the work (GHOST_SOAK_FACTOR); `npm test` runs it once.
const SOAK = Number(process.env.GHOST_SOAK_FACTOR ?? 1)

const sorted = (t: Tree) => [...t.entries()].sort(([a], [b]) => a.localeCompare(b))

it('random operation sequences on random trees apply exactly as the model says, or are rejected leaving every byte and the branch as they were', { timeout: 120_000 * SOAK }, async (t) => {
  const seed = Number(process.env.GHOST_FC_SEED ?? Date.now() % 2 ** 31)
  t.diagnostic(`fast-check seed ${seed} (GHOST_FC_SEED=${seed} replays it)`)
  const root = makeWorkspace({})
  const config = runnerConfig({ default: workspace(root) })
  const store = await openTestStore()
  let applied = 0
  let rejected = 0
  await fc.assert(
    fc.asyncProperty(tree, fc.array(operation, { minLength: 1, maxLength: 3 }), async (start, ops) => {
      // Lay out the starting tree as the branch's newest commit.
      for (const e of readdirSync(root)) if (e !== '.git') rmSync(path.join(root, e), { recursive: true })
      for (const [p, s] of Object.entries(start)) {
        mkdirSync(path.dirname(path.join(root, p)), { recursive: true })
        writeFileSync(path.join(root, p), s)
      }
      git(root, 'add', '-A')
      git(root, 'commit', '-q', '--allow-empty', '-m', 'start')
      const before = head(root)

      const expected = model(new Map(Object.entries(start)), ops)
      await enqueue(store, patch({ operations: ops }))
      const { record } = await runNext(store, config)
      if (expected === null) {
        rejected++
        assert.equal(record.status, 'rejected', `expected a rejection, got ${record.status} ${JSON.stringify(record.error)}`)
        assert.equal(head(root), before, 'a rejected patch moved the branch')
      } else {
        applied++
        assert.equal(record.status, 'applied', `expected it applied, got ${record.status} ${JSON.stringify(record.error)}`)
        assert.equal(record.result!.commit, head(root))
      }
      assert.deepEqual(sorted(readTree(root)), sorted(expected ?? new Map(Object.entries(start))))
      assert.equal(status(root), '', 'the tree is exactly a commit')
    }),
    { numRuns: 40 * SOAK, seed, endOnFailure: true, includeErrorInReport: true },
  )
  t.diagnostic(`${applied} applied, ${rejected} rejected`)
  assert.ok(applied > 5 && rejected > 5, `the generator explores both outcomes: ${applied} applied, ${rejected} rejected`)
})
