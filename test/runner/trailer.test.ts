import { it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fc from 'fast-check'
import { withTrailer } from '../../src/runner/commit.js'
import { tempDir } from '../helper.js'

// Lines built from what decides git's trailer placement: separators, token characters, blank and
// whitespace-only lines, comment and Conflicts: lines, continuation indents, CRs.
const line = fc
  .array(fc.constantFrom('a', 'Z', '-', ':', ' ', '\t', '\r', '#', 'Signed-off-by: x', '(cherry picked from commit 1)', 'Conflicts:', 'Key: v', '[PATCH 1]', 'é'), { maxLength: 6 })
  .map((parts) => parts.join(''))
const message = fc.array(line, { minLength: 1, maxLength: 6 }).map((lines) => lines.join('\n').trimEnd())

it('places the Patch-Id trailer exactly where git interpret-trailers does', async () => {
  const root = tempDir()
  execFileSync('git', ['init', '-q', root])
  const id = 'pt_0mx0k8cw37Uh0rABtekjp'
  const byGit = (m: string) =>
    execFileSync('git', ['interpret-trailers', '--no-divider', '--where', 'end', '--if-exists', 'add', '--if-missing', 'add', '--trailer', `Patch-Id: ${id}`], { cwd: root, input: `${m}\n` }).toString()
  await fc.assert(
    fc.asyncProperty(message, async (m) => {
      assert.equal(await withTrailer(root, m, id), byGit(m))
    }),
    { numRuns: 300 },
  )
  // The common shapes are among the cases answered without git.
  for (const m of ['[PATCH agent-1] add a greeting', 'fix: one\nmore detail on a second line']) assert.equal(await withTrailer(root, m, id), byGit(m))
})
