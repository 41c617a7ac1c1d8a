import assert from 'node:assert/strict'
import { it } from 'node:test'
import fc from 'fast-check'
import { FormatRegistry } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { NormalizedPatch, type Operation } from '../../src/schemas/patch.js'
import { PatchRecord } from '../../src/schemas/record.js'
import { headerPaths } from '../../src/ingest/header-paths.js'
import { checkRelativePath } from '../../src/runner/workspace/paths.js'
import { auth, testApp } from '../helpers/app.js'

type App = Awaited<ReturnType<typeof testApp>>

// TypeBox checks formats only once they are registered; records carry RFC 3339 times.
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v) && !Number.isNaN(Date.parse(v)))

const VALID: unknown[] = [
  { target: 'default', description: 'd', operations: [{ op: 'write', path: 'a.txt', contents: 'a\n' }, { op: 'replace', path: 'README.md', find: 'demo', replace: 'x' }] },
  { target: 'default', description: 'd', checks: ['test'], commit: { message: 'm', tag: 'v1' }, metadata: { k: 'v' }, operations: [{ op: 'diff', diff: '--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-# demo\n+# x\n' }] },
  { target: 'default', description: 'd', operations: [{ op: 'apply_patch', patch: '*** Begin Patch\n*** Add File: n.txt\n+n\n*** End Patch\n' }, { op: 'rename', from: 'a', to: 'b' }, { op: 'insert', path: 'README.md', contents: 'x', after: 'demo' }, { op: 'delete', path: 'z' }] },
  { id: 'v1', role: 'ghost', target_file: 'README.md', patch: { pattern: 'de(mo)', replacement: 'x$1' }, description: 'legacy' },
  { blockId: 'B', description: 'v2', target: 'default', version: 1, mutations: [{ path: 'src/x.ts', contents: 'x' }], postMutationBuild: { shell: ['node -e process.exit(0)'] }, validate: { shell: [] }, final: { git: { commit: 'c', tag: 't' } } },
]

// Strings chosen to hit the edges: traversal, NULs, .git, absolute paths, odd Unicode, huge numbers.
const hostile = fc.constantFrom('..', '../x', '/etc/passwd', '.git/config', 'a\u0000b', '\u202e', '', ' ', 'C:\\x', '__proto__', 'constructor', '%2e%2e/x', 'a/./b', '\uffff', '\ud800')
const value = fc.oneof(fc.anything({ maxDepth: 3 }), hostile, fc.string(), fc.integer(), fc.constant(null))

type Json = Record<string, unknown> | unknown[]
const isContainer = (v: unknown): v is Json => typeof v === 'object' && v !== null

/** Every (container, key) pair inside a JSON value, for mutations to pick from. */
function slots(v: unknown, out: [Json, string | number][] = []): [Json, string | number][] {
  if (!isContainer(v)) return out
  for (const k of Array.isArray(v) ? v.keys() : Object.keys(v)) {
    out.push([v, k])
    slots((v as Record<string | number, unknown>)[k], out)
  }
  return out
}

const mutation = fc.tuple(fc.nat(), fc.constantFrom('set', 'delete', 'add'), value, fc.string({ maxLength: 8 }))
/** A valid payload with a few fields deleted, replaced or added. */
const mutated = fc.tuple(fc.constantFrom(...VALID), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([base, muts]) => {
  const body = structuredClone(base) as Json
  for (const [pick, kind, v, key] of muts) {
    const all = slots(body)
    if (all.length === 0) break
    const [container, k] = all[pick % all.length]!
    if (kind === 'set') (container as Record<string | number, unknown>)[k] = v
    else if (kind === 'delete' && Array.isArray(container)) container.splice(Number(k), 1)
    else if (kind === 'delete') delete (container as Record<string, unknown>)[k as string]
    else if (!Array.isArray(container)) Object.defineProperty(container, key, { value: v, enumerable: true, configurable: true, writable: true })
  }
  return JSON.stringify(body)
})
/** Raw bytes: a valid payload's text with bytes flipped, cut or duplicated. */
const corrupted = fc.tuple(fc.constantFrom(...VALID.map((v) => JSON.stringify(v))), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })).map(([text, flips]) => {
  const bytes = Buffer.from(text)
  for (const [at, b] of flips) bytes[at % bytes.length] = b
  return bytes
})
const body = fc.oneof(mutated, corrupted, value.map((v) => JSON.stringify(v) ?? 'undefined'))

/** What a stored record must be, whatever was sent: schema-valid, with only safe paths. */
function assertValidRecord(record: unknown) {
  assert.ok(Value.Check(PatchRecord, record), `stored record fails its schema: ${[...Value.Errors(PatchRecord, record)].map((e) => e.path + ' ' + e.message).slice(0, 3).join('; ')}`)
  const { patch } = record as { patch: unknown }
  assert.ok(Value.Check(NormalizedPatch, patch), 'stored patch fails its schema')
  for (const op of (patch as { operations: Operation[] }).operations) {
    const paths = op.op === 'rename' ? [op.from, op.to] : op.op === 'diff' || op.op === 'apply_patch' ? headerPaths(op) : [op.path]
    for (const p of paths) assert.equal(checkRelativePath(p), null, `stored an unsafe path ${JSON.stringify(p)}`)
  }
}

// `npm run soak` multiplies the work (GHOST_SOAK_FACTOR); `npm test` runs it once.
const SOAK = Number(process.env.GHOST_SOAK_FACTOR ?? 1)

async function post(app: App, payload: string | Buffer) {
  return app.inject({ method: 'POST', url: '/webhook', headers: { ...auth, 'content-type': 'application/json' }, payload })
}

it('random and mutated payloads against /webhook never get a 5xx, always a coded answer, and never store an invalid record', { timeout: 120_000 * SOAK }, async (t) => {
  const seed = Number(process.env.GHOST_FC_SEED ?? Date.now() % 2 ** 31)
  t.diagnostic(`fast-check seed ${seed} (GHOST_FC_SEED=${seed} replays it)`)
  const app = await testApp({ limits: { queueDepth: 1_000_000, ratePerMinute: 1_000_000 } })
  const seen = new Map<number, number>()
  await fc.assert(
    fc.asyncProperty(body, async (payload) => {
      const res = await post(app, payload)
      seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1)
      assert.ok(res.statusCode < 500, `${res.statusCode} ${res.body.slice(0, 300)}`)
      if (res.statusCode >= 400) {
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/)
        assert.match(res.json().code, /^[A-Z_]+$/)
        return
      }
      assert.ok(res.statusCode === 202 || res.statusCode === 200, `${res.statusCode}`)
      assertValidRecord(await app.store.get(res.json().id))
    }),
    { numRuns: 400 * SOAK, seed, endOnFailure: true, includeErrorInReport: true },
  )
  t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries(seen))}`)
  assert.ok((seen.get(202) ?? 0) > 0 && [...seen.keys()].some((s) => s >= 400), 'the fuzzer reaches both acceptance and refusal')
})
