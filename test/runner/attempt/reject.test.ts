import { readdirSync } from 'node:fs'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { NormalizedPatch, Operation } from '../../../src/schemas/patch.js'
import { commitCount, enqueue, makeWorkspace, openTestStore, patch, runNext, runnerConfig, status, tempDir, treeState, workspace } from '../../helpers/git.js'

const TREE = {
  'src/app.js': 'const a = 1\nconst b = 2\nconst a2 = 1\n',
  'src/dup.txt': 'x\nanchor\ny\nanchor\n',
  'bin/run': { exec: '#!/bin/sh\necho run\n' },
  'docs/readme.md': '# docs\n',
}

// Each case starts with an operation that would succeed, so a rejection proves nothing was written.
const WARMUP: Operation = { op: 'write', path: 'src/new-file.txt', contents: 'would be written\n' }

interface Case {
  code: string
  ops?: Operation[]
  patch?: Partial<NormalizedPatch>
}

const outsideDir = tempDir('gr-outside-')

const CASES: Case[] = [
  { code: 'CONTEXT_NOT_FOUND', ops: [{ op: 'replace', path: 'src/app.js', find: 'const z', replace: 'const y' }] },
  { code: 'CONTEXT_NOT_FOUND', ops: [{ op: 'insert', path: 'src/app.js', contents: 'x', after: 'nowhere' }] },
  { code: 'AMBIGUOUS_MATCH', ops: [{ op: 'insert', path: 'src/dup.txt', contents: 'new\n', after: 'anchor\n' }] },
  { code: 'COUNT_MISMATCH', ops: [{ op: 'replace', path: 'src/app.js', find: 'const', replace: 'let', count: 2 }] },
  { code: 'FILE_EXISTS', ops: [{ op: 'rename', from: 'src/app.js', to: 'docs/readme.md' }] },
  { code: 'FILE_NOT_FOUND', ops: [{ op: 'delete', path: 'src/missing.js' }] },
  { code: 'PATH_OUTSIDE_WORKSPACE', ops: [{ op: 'write', path: '../escape.txt', contents: 'x' }] },
  { code: 'PATH_OUTSIDE_WORKSPACE', ops: [{ op: 'write', path: '/etc/passwd', contents: 'x' }] },
  { code: 'PATH_OUTSIDE_WORKSPACE', ops: [{ op: 'write', path: '.git/config', contents: 'x' }] },
  // A symlink already in the workspace, pointing outside it.
  { code: 'PATH_OUTSIDE_WORKSPACE', ops: [{ op: 'write', path: 'out/evil.txt', contents: 'x' }] },
  // A patch that creates a symlink and then writes through it.
  {
    code: 'PATH_OUTSIDE_WORKSPACE',
    ops: [
      { op: 'diff', diff: `diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+${outsideDir}\n\\ No newline at end of file\n` },
      { op: 'write', path: 'link/pwned.txt', contents: 'x' },
    ],
  },
  { code: 'PATCH_PARSE_ERROR', ops: [{ op: 'diff', diff: 'this is not a diff\n' }] },
  { code: 'PATCH_PARSE_ERROR', ops: [{ op: 'apply_patch', patch: '*** Begin Patch\n*** Frobnicate File: x\n*** End Patch\n' }] },
  { code: 'REGEX_TIMEOUT', ops: [{ op: 'replace', path: 'src/big.txt', find: '(a+)+$', replace: '', regex: true }] },
  { code: 'INVALID_REGEX', ops: [{ op: 'replace', path: 'src/app.js', find: '(unclosed', replace: '', regex: true }] },
  { code: 'CHECK_NOT_ALLOWED', ops: [], patch: { checks: ['ok', 'rm-everything'] } },
  { code: 'UNKNOWN_TARGET', ops: [], patch: { target: 'nope' } },
  { code: 'INVALID_COMMIT_MESSAGE', ops: [], patch: { commit: { message: 'a\u0000b' } } },
]

describe('rejections leave the workspace byte-identical and git status clean', () => {
  for (const c of CASES) {
    it(`${c.code}: ${JSON.stringify(c.ops?.[0] ?? c.patch).slice(0, 90)}`, async () => {
      const root = makeWorkspace({ ...TREE, 'src/big.txt': `${'a'.repeat(40)}!\n`, out: { link: outsideDir } })
      const config = runnerConfig({ default: workspace(root) })
      const store = await openTestStore()
      const before = treeState(root)
      const commits = commitCount(root)
      const outsideBefore = readdirSync(outsideDir)
      await enqueue(store, patch({ checks: ['ok'], ...c.patch, operations: [WARMUP, ...(c.ops ?? [])] }))
      const { record } = await runNext(store, config)
      assert.equal(record.status, 'rejected', JSON.stringify(record.error))
      assert.equal(record.error?.code, c.code, record.error?.message)
      if ((c.ops ?? []).length > 0 && c.patch === undefined) assert.equal(record.error?.operation, 1, 'names the failing operation')
      assert.deepEqual(treeState(root), before)
      assert.equal(status(root), '')
      assert.equal(commitCount(root), commits)
      assert.deepEqual(readdirSync(outsideDir), outsideBefore, 'something was written outside the workspace')
      assert.deepEqual(record.events.map((e) => e.reason), ['enqueued', 'claimed', c.code])
    })
  }
})
