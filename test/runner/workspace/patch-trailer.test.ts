import { it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import fc from 'fast-check'
import { withTrailer } from '../../../src/runner/attempt/commit.js'
import { tempDir } from '../../helpers/app.js'
import { enqueue, git, makeWorkspace, openTestStore, patch, runNext, runnerConfig, workspace } from '../../helpers/git.js'

// Lines built from what decides git's trailer placement: separators, token characters, blank and
// whitespace-only lines, comment and Conflicts: lines, continuation indents, CRs.
const line = fc
  .array(fc.constantFrom('a', 'Z', '-', ':', ' ', '\t', '\r', '#', 'Signed-off-by: x', '(cherry picked from commit 1)', 'Conflicts:', 'Key: v', '[PATCH 1]', 'é'), { maxLength: 6 })
  .map((parts) => parts.join(''))
const message = fc.array(line, { minLength: 1, maxLength: 6 }).map((lines) => lines.join('\n').trimEnd())

it('places the Patch-Id trailer exactly where git interpret-trailers does', async () => {
  const root = tempDir()
  execFileSync('git', ['init', '-q', root])
  const repo = { root, gitDir: path.join(root, '.git') }
  const id = 'pt_0mx0k8cw37Uh0rABtekjp'
  const byGit = (m: string) =>
    execFileSync('git', ['interpret-trailers', '--no-divider', '--where', 'end', '--if-exists', 'add', '--if-missing', 'add', '--trailer', `Patch-Id: ${id}`], { cwd: root, input: `${m}\n` }).toString()
  await fc.assert(
    fc.asyncProperty(message, async (m) => {
      assert.equal(await withTrailer(repo, m, id), byGit(m))
    }),
    { numRuns: 300 },
  )
  // The common shapes are among the cases answered without git.
  for (const m of ['[PATCH agent-1] add a greeting', 'fix: one\nmore detail on a second line']) assert.equal(await withTrailer(repo, m, id), byGit(m))
})

it('every commit the runner makes carries Patch-Id as its last trailer, as git log reads trailers', async () => {
  const root = makeWorkspace({ 'a.txt': 'a\n' })
  const config = runnerConfig({ default: workspace(root) })
  const store = await openTestStore()
  const messages = [
    undefined, // the default: "[PATCH <id>] <description>"
    'fix: one line that looks like a trailer: but is the title',
    'Refs: 12',
    'add a greeting\n\nThe body explains why: at some length.',
    'tidy up\n\nA body paragraph.\n\nSigned-off-by: A Person <person@example.com>\nRefs: #12',
  ]
  for (const [i, message] of messages.entries()) {
    const id = await enqueue(store, patch({ commit: message === undefined ? {} : { message }, operations: [{ op: 'write', path: 'a.txt', contents: `${i}\n` }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    const commit = record.result!.commit!
    const log = (format: string) => git(root, 'log', '-1', `--format=${format}`, commit)
    assert.equal(log('%(trailers:key=Patch-Id,valueonly=true)').trim(), id, `trailers of ${JSON.stringify(log('%B'))}`)
    assert.equal(log('%(trailers:only,unfold)').trim().split('\n').at(-1), `Patch-Id: ${id}`, 'the last trailer')
    if (message !== undefined) assert.ok(log('%B').startsWith(`${message}\n`), 'the message itself is kept')
  }
})
