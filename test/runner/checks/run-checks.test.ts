import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { runCheck, TailBuffer } from '../../../src/runner/checks/run-checks.js'
import { hostProcessesWith } from '../../helpers/host-processes.js'
import { commitCount, enqueue, makeWorkspace, openTestStore, patch, runNext, runnerConfig, status, tempDir, treeState, workspace } from '../../helpers/git.js'

const TREE = {
  'src/a.txt': 'alpha\n',
  'src/gone.txt': 'to be deleted\n',
  'tool.sh': { exec: '#!/bin/sh\n' },
  'link': { link: 'src/a.txt' },
}

const EDITS = [
  { op: 'replace' as const, path: 'src/a.txt', find: 'alpha', replace: 'beta' },
  { op: 'write' as const, path: 'brand/new/dir/file.txt', contents: 'new\n' },
  { op: 'delete' as const, path: 'src/gone.txt' },
  { op: 'rename' as const, from: 'tool.sh', to: 'bin/tool.sh' },
  { op: 'diff' as const, diff: 'diff --git a/link b/link\nindex 0000000..1111111 120000\n--- a/link\n+++ b/link\n@@ -1 +1 @@\n-src/a.txt\n\\ No newline at end of file\n+brand/new/dir/file.txt\n\\ No newline at end of file\n' },
]

describe('checks', () => {
  it('a failing check restores every byte and records the exit code and output tail', async () => {
    const root = makeWorkspace(TREE)
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    const before = treeState(root)
    await enqueue(store, patch({ checks: ['ok', 'fail', 'ok2'], operations: EDITS }))
    config.workspaces.default!.checks.ok2 = ['node', '-e', 'require("fs").writeFileSync("ran-ok2", "")']
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'failed')
    assert.equal(record.error?.code, 'CHECK_FAILED')
    assert.match(record.error!.message, /check "fail" exited with code 3/)
    assert.match(record.error!.detail!, /3 tests failed/)
    const checks = record.result!.checks
    assert.deepEqual(checks.map((c) => [c.name, c.exit_code, c.timed_out]), [['ok', 0, false], ['fail', 3, false]], 'stops at the first failure')
    assert.match(checks[1]!.output_tail, /compiling…\n3 tests failed\n/)
    assert.deepEqual(treeState(root), before)
    assert.equal(status(root), '')
    assert.equal(commitCount(root), 1)
    assert.ok(!existsSync(path.join(root, 'ran-ok2')))
    assert.ok(!existsSync(path.join(root, '.git', 'ghost-runner', 'journal.json')), 'journal removed after the restore')
  })

  it('a check that times out is killed with everything it started, and the tree restored', async () => {
    const root = makeWorkspace(TREE)
    // The check starts a grandchild that ignores SIGTERM; only killing everything stops it.
    const token = `grandchild-${randomUUID()}`
    const script = `
      const { spawn } = require('child_process')
      spawn(process.execPath, ['-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)', ${JSON.stringify(token)}], { stdio: 'ignore' })
      console.log('started grandchild')
      setInterval(() => {}, 1000)`
    const config = runnerConfig({ default: workspace(root, { checkTimeoutMs: 700, checks: { hang: ['node', '-e', script] } }) })
    const store = await openTestStore()
    const before = treeState(root)
    await enqueue(store, patch({ checks: ['hang'], operations: EDITS }))
    const started = Date.now()
    const { record } = await runNext(store, config)
    assert.ok(Date.now() - started < 8000)
    assert.equal(record.status, 'failed')
    assert.equal(record.error?.code, 'CHECK_TIMEOUT')
    assert.match(record.error!.message, /^check "hang" timed out after \d+ ms and was killed by SIG(TERM|KILL) with every process it started$/)
    const [check] = record.result!.checks
    assert.equal(check!.timed_out, true)
    assert.equal(check!.exit_code, null)
    assert.ok(check!.signal === 'SIGTERM' || check!.signal === 'SIGKILL')
    assert.match(check!.output_tail, /started grandchild/)
    assert.deepEqual(treeState(root), before)
    assert.equal(status(root), '')
    await new Promise((r) => setTimeout(r, 200))
    assert.deepEqual(hostProcessesWith(token), [], 'the grandchild survived the timeout')
  })

  it('runs argv without a shell, in the workspace, with a scrubbed environment', async () => {
    const root = makeWorkspace()
    process.env.GHOST_TEST_SECRET = 'do-not-leak'
    try {
      const run = await runCheck('env', ['node', '-e', 'console.log(JSON.stringify({ cwd: process.cwd(), env: Object.keys(process.env).sort(), arg: process.argv[1] }))', '$(echo hi); `id`'], {
        cwd: root,
        timeoutMs: 5000,
      })
      assert.equal(run.exit_code, 0, run.output_tail)
      const seen = JSON.parse(run.output_tail) as { cwd: string; env: string[]; arg: string }
      assert.equal(seen.cwd, root)
      assert.equal(seen.arg, '$(echo hi); `id`')
      assert.ok(!seen.env.includes('GHOST_TEST_SECRET'))
      assert.deepEqual(seen.env.filter((k) => !['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'PWD'].includes(k)), [])
    } finally {
      delete process.env.GHOST_TEST_SECRET
    }
  })

  it('reports a check whose program does not exist as failed to start', async () => {
    const run = await runCheck('missing', ['definitely-not-a-program-xyz'], { cwd: tempDir(), timeoutMs: 5000 })
    assert.equal(run.exit_code, null)
    assert.match(run.output_tail, /could not start/)
  })

  it('keeps only the tail of large output', async () => {
    const run = await runCheck('noisy', ['node', '-e', 'for (let i = 0; i < 20000; i++) console.log("line " + i)'], { cwd: tempDir(), timeoutMs: 10_000, tailBytes: 1024 })
    assert.equal(run.exit_code, 0)
    assert.ok(run.output_tail.length < 1200, String(run.output_tail.length))
    assert.match(run.output_tail, /^\[… \d+ earlier bytes omitted\]\n/)
    assert.match(run.output_tail, /line 19999\n$/)
  })

  it('TailBuffer never splits a UTF-8 character at the cut', () => {
    const tail = new TailBuffer(5)
    tail.push(Buffer.from('ééééé'))
    const text = tail.toString()
    assert.ok(!text.includes('\ufffd'), text)
    assert.match(text, /é+$/)
  })
})
