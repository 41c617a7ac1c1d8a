import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { gitRepo, testApp, testConfig } from '../helpers/app.js'
import { bearer, scopedOverrides, TOKENS } from '../helpers/credentials.js'
import type { PatchPreview } from '../../src/schemas/preview.js'

const block = (n: number) => [`describe('case ${n}', () => {`, `  it('works', (testDone) => {`, `    run(${n})`, '    testDone()', '  })', '})', ''].join('\n')
const SUITE = block(1) + block(2)

const overrides = scopedOverrides()
const root = gitRepo({ 'suite.test.js': SUITE, 'README.md': '# demo\n', 'old.txt': 'keep me\n' })
overrides.workspaces!.docs!.path = root
const app = await testApp(testConfig(overrides))
const agent = bearer(TOKENS.docsAgent)
const v4a = (...body: string[]) => ['*** Begin Patch', ...body, '*** End Patch'].join('\n')
const preview = (payload: object, headers: Record<string, string> = agent) => app.inject({ method: 'POST', url: '/patches/preview', headers, payload })
const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' })

describe('POST /patches/preview', () => {
  it('answers with per-file stats and one unified diff, and writes, queues and commits nothing', async () => {
    const head = git('rev-parse', 'HEAD')
    const res = await preview({
      target: 'docs',
      operations: [
        { op: 'apply_patch', patch: v4a('*** Update File: suite.test.js', "@@ describe('case 2', () => {", '-    run(2)', '+    run(22)') },
        { op: 'write', path: 'new.txt', contents: 'a\nb\n' },
        { op: 'delete', path: 'README.md' },
        { op: 'rename', from: 'old.txt', to: 'moved.txt' },
      ],
    })
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json() as PatchPreview
    assert.deepEqual(body.files, [
      { path: 'README.md', status: 'deleted', additions: 0, deletions: 1 },
      { path: 'moved.txt', status: 'renamed', from: 'old.txt', additions: 0, deletions: 0 },
      { path: 'new.txt', status: 'added', additions: 2, deletions: 0 },
      { path: 'suite.test.js', status: 'modified', additions: 1, deletions: 1 },
    ])
    assert.equal(body.truncated, false)
    assert.match(body.diff, /^diff --git a\/suite\.test\.js b\/suite\.test\.js\n--- a\/suite\.test\.js\n\+\+\+ b\/suite\.test\.js\n@@ -6,7 \+6,7 @@\n/m)
    assert.match(body.diff, /^- {4}run\(2\)\n\+ {4}run\(22\)$/m)
    assert.match(body.diff, /^diff --git a\/old\.txt b\/moved\.txt\nrename from old\.txt\nrename to moved\.txt\n/m)
    assert.match(body.diff, /^new file mode 100644\n--- \/dev\/null\n\+\+\+ b\/new\.txt\n@@ -0,0 \+1,2 @@\n\+a\n\+b$/m)
    // Nothing happened: the tree, the index, HEAD and the queue are as they were.
    assert.equal(git('status', '--porcelain'), '')
    assert.equal(git('rev-parse', 'HEAD'), head)
    assert.equal(readFileSync(join(root, 'suite.test.js'), 'utf8'), SUITE)
    assert.ok(!existsSync(join(root, 'new.txt')))
    assert.equal((await app.store.list({ limit: 10 })).items.length, 0)
  })

  it('a patch that would be rejected: 422 with its code, candidates and regions', async () => {
    const res = await preview({ target: 'docs', operations: [{ op: 'apply_patch', patch: v4a('*** Update File: suite.test.js', '@@', '     testDone()', '   })', ' })', '+// end') }] })
    assert.equal(res.statusCode, 422, res.body)
    const body = res.json()
    assert.equal(body.code, 'AMBIGUOUS_MATCH')
    assert.equal(body.path, 'suite.test.js')
    assert.equal(body.operation, 0)
    assert.deepEqual(body.candidates, [4, 10])
    assert.deepEqual(body.regions.map((r: { start_line: number }) => r.start_line), [1, 7])

    const missing = (await preview({ target: 'docs', operations: [{ op: 'apply_patch', patch: v4a('*** Update File: suite.test.js', '@@', '-    run(2);', '+    run(3)') }] })).json()
    assert.equal(missing.code, 'CONTEXT_NOT_FOUND')
    assert.deepEqual(missing.regions[0].lines, ['    run(2)'])
  })

  it('refuses what the webhook refuses, with the same answer', async () => {
    const forbidden = await preview({ target: 'default', operations: [{ op: 'write', path: 'x', contents: 'x' }] })
    assert.equal(forbidden.statusCode, 403)
    assert.equal(forbidden.json().code, 'TARGET_FORBIDDEN')
    assert.equal((await preview({ target: 'docs', operations: [{ op: 'write' }] })).statusCode, 400)
    const outside = await preview({ target: 'docs', operations: [{ op: 'write', path: '../x', contents: 'x' }] })
    assert.equal(outside.statusCode, 422)
    assert.equal(outside.json().code, 'PATH_NOT_ALLOWED')
    assert.equal((await preview({ target: 'docs', operations: [] }, bearer(TOKENS.monitor))).statusCode, 403)
    assert.equal((await preview({ target: 'docs', operations: [] }, {})).statusCode, 401)
  })

  it('works out the diff in the planner process: diffs that take seconds never hold the event loop', async () => {
    // Twelve files of 5,000 lines, every line of which the patch changes: each diff runs into its
    // time limit (preview-diff.ts), two seconds in all, which the service's event loop must not wait out.
    const files = Object.fromEntries(Array.from({ length: 12 }, (_, f) => [`big-${f}.txt`, Array.from({ length: 5000 }, (_, i) => `line ${i} of ${f}\n`).join('')]))
    const config = testConfig(scopedOverrides())
    config.workspaces.docs!.path = gitRepo(files)
    const big = await testApp(config)
    // The longest the event loop went without turning while the preview was worked out.
    let last = performance.now()
    let longest = 0
    const ticker = setInterval(() => {
      longest = Math.max(longest, performance.now() - last)
      last = performance.now()
    }, 10)
    const res = await big.inject({ method: 'POST', url: '/patches/preview', headers: agent, payload: { target: 'docs', operations: Object.keys(files).map((path) => ({ op: 'replace', path, find: 'line', replace: 'LINE' })) } })
    // A block that just ended shows at the ticker's next turn.
    await new Promise((resolve) => setTimeout(resolve, 50))
    clearInterval(ticker)
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json() as PatchPreview
    assert.equal(body.files.length, 12)
    for (const file of body.files) assert.deepEqual([file.status, file.additions, file.deletions], ['modified', 5000, 5000])
    assert.equal(body.truncated, true, 'the diffs ran out of time')
    assert.ok(longest < 1000, `the event loop stood still for ${longest.toFixed(0)} ms`)
  })

  it('a server without the workspace repository answers 409 WORKSPACE_UNAVAILABLE', async () => {
    const gateway = testConfig(scopedOverrides())
    gateway.workspaces.docs!.path = join(root, 'not-here')
    const other = await testApp(gateway)
    const res = await other.inject({ method: 'POST', url: '/patches/preview', headers: agent, payload: { target: 'docs', operations: [{ op: 'write', path: 'x', contents: 'x' }] } })
    assert.equal(res.statusCode, 409)
    assert.equal(res.json().code, 'WORKSPACE_UNAVAILABLE')
  })
})
