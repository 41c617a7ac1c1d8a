import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { defineConfig } from '../../../src/config.js'
import { DEFAULT_SIZE_LIMITS, planInWorker, planOperations, RejectError, type RejectCode } from '../../../src/runner/operations/index.js'
import type { Operation } from '../../../src/schemas/patch.js'
import { git, makeRepo, snapshot, tempDir } from '../../helpers/operations.js'

const MiB = 1024 * 1024

/** Planner processes this process started, with their scratch directories. */
function plannerDirs(): Map<number, string> {
  return new Map(myPlanners().map((pid) => [pid, readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).pop()!]))
}

/** Planner processes this process started. */
function myPlanners(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        const stat = readFileSync(`/proc/${n}/stat`, 'utf8').slice(readFileSync(`/proc/${n}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ')
        return Number(stat[1]) === process.pid && readFileSync(`/proc/${n}/cmdline`, 'utf8').includes('plan-process')
      } catch {
        return false
      }
    })
    .map(Number)
}

/** User and system CPU time of a process, in clock ticks. */
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return 0
  }
}
const peakRssMb = () => process.resourceUsage().maxRSS / 1024

async function expectRejectInWorker(root: string, ops: Operation[], code: RejectCode, opts: Parameters<typeof planInWorker>[2] = {}): Promise<RejectError> {
  const before = snapshot(root)
  const err = await planInWorker(root, ops, opts).then(
    () => assert.fail(`expected ${code}, but the patch planned cleanly`),
    (e: unknown) => e,
  )
  assert.ok(err instanceof RejectError, `expected a RejectError, got ${String(err)}`)
  assert.equal(err.code, code, `${err.code}: ${err.message}`)
  assert.deepEqual(snapshot(root), before, 'workspace changed')
  return err
}

// First in the file: the process's peak memory is only meaningful before anything else raised it.
describe('size limits, checked while planning', () => {
  it('a 331-byte replace that would turn a 1 MB file into 200 MB is refused unbuilt: the process does not grow by it', async () => {
    const root = makeRepo({ 'big.txt': 'a'.repeat(MiB) })
    const amplify: Operation = { op: 'replace', path: 'big.txt', find: 'a', replace: 'b'.repeat(200) }
    const peak = peakRssMb()
    const err = await expectRejectInWorker(root, [amplify], 'PATCH_TOO_LARGE')
    assert.equal(err.path, 'big.txt')
    assert.equal(err.operation, 0)
    await expectRejectInWorker(root, [amplify], 'FILE_TOO_LARGE', { maxFileBytes: 16 * MiB })
    // As a regex, measured before it is built.
    await expectRejectInWorker(root, [{ ...amplify, find: 'a', replace: '$&'.repeat(200), regex: true }], 'PATCH_TOO_LARGE', { regexTimeoutMs: 10_000 })
    // Built, the 200 MB file alone would add 400 MB or more (the text and its bytes).
    const grown = peakRssMb() - peak
    assert.ok(grown < 150, `the process's peak memory grew by ${grown.toFixed(0)} MB`)
  })

  it('counts what the whole patch writes, a file planned twice once, at its last size', async () => {
    const root = makeRepo({ 'a.txt': 'a\n' })
    const mb = 'x'.repeat(MiB)
    const limits = { maxPatchBytes: 3 * MiB, maxFileBytes: 2 * MiB }
    await planInWorker(root, [{ op: 'write', path: 'one', contents: mb }, { op: 'write', path: 'one', contents: mb }, { op: 'write', path: 'two', contents: mb }], limits)
    const err = await expectRejectInWorker(root, ['one', 'two', 'three', 'four'].map((p) => ({ op: 'write', path: p, contents: mb })), 'PATCH_TOO_LARGE', limits)
    assert.equal(err.operation, 3)
    await expectRejectInWorker(root, [{ op: 'write', path: 'one', contents: mb + mb + 'x' }], 'FILE_TOO_LARGE', limits)
  })

  it("takes its defaults from the configuration's", () => {
    const config = defineConfig({ dataDir: tempDir(), workspaces: { w: { path: '/srv/w' } } })
    assert.equal(DEFAULT_SIZE_LIMITS.maxFileBytes, config.workspaces.w!.limits.fileSizeMb * MiB)
    assert.equal(DEFAULT_SIZE_LIMITS.maxPatchBytes, config.limits.patchWriteMb * MiB)
  })
})

describe('planInWorker', () => {
  it('stops a patch past its budget with PLAN_TIMEOUT, and plans the next one as before', async () => {
    const slowRoot = makeRepo({ 'slow.txt': `${'a'.repeat(22)}!\n`, 'x.txt': 'x\n' })
    await planInWorker(slowRoot, [{ op: 'write', path: 'w.txt', contents: 'w' }])
    const before = plannerDirs()
    const slow: Operation = { op: 'replace', path: 'slow.txt', find: '(a+)+b|!', replace: '!', regex: true }
    // A diff first: its scratch tree is made in the planner's own directory, removed with the planner.
    const diff: Operation = { op: 'diff', diff: 'diff --git a/x.txt b/x.txt\n--- a/x.txt\n+++ b/x.txt\n@@ -1 +1 @@\n-x\n+y\n' }
    const err = await expectRejectInWorker(slowRoot, [diff, ...Array.from({ length: 199 }, () => slow)], 'PLAN_TIMEOUT', { budgetMs: 300 })
    assert.match(err.message, /budget of 300 ms/)
    // SIGKILL is sent before the rejection; the process takes a moment to be gone from /proc.
    const gone = () => [...before].filter(([pid]) => !plannerDirs().has(pid))
    let killed = gone()
    for (let i = 0; i < 100 && killed.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50))
      killed = gone()
    }
    assert.equal(killed.length, 1, 'the planner that ran past its budget was stopped')
    for (let i = 0; i < 100 && existsSync(killed[0]![1]); i++) await new Promise((r) => setTimeout(r, 50))
    assert.equal(existsSync(killed[0]![1]), false, "the stopped planner's scratch directory was left behind")

    const root = makeRepo({ 'a.txt': 'a\n' })
    const changes = await planInWorker(root, [{ op: 'replace', path: 'a.txt', find: 'a', replace: 'b' }])
    assert.deepEqual(changes, [{ path: 'a.txt', before: { contents: Buffer.from('a\n'), mode: 0o100644 }, after: { contents: Buffer.from('b\n'), mode: 0o100644 } }])
  })

  it('a patch that runs its planner out of memory is rejected PLAN_OUT_OF_MEMORY, and this process carries on', async () => {
    const root = makeRepo({ 'big.txt': 'a'.repeat(MiB) })
    const huge = { maxFileBytes: 1024 * MiB, maxPatchBytes: 1024 * MiB, heapMb: 32 }
    await expectRejectInWorker(root, [{ op: 'replace', path: 'big.txt', find: 'a', replace: 'b'.repeat(200) }], 'PLAN_OUT_OF_MEMORY', huge)
    assert.equal((await planInWorker(root, [{ op: 'write', path: 'small.txt', contents: 'ok\n' }], huge)).length, 1)
  })

  it('a planner killed in the middle of a patch rejects it PLAN_CRASHED; the next patch gets a new one', async () => {
    const root = makeRepo({ 'slow.txt': `${'a'.repeat(22)}!\n` })
    const write: Operation = { op: 'write', path: 'w.txt', contents: 'w\n' }
    await planInWorker(root, [write])
    const before = new Map(myPlanners().map((pid) => [pid, cpuTicks(pid)]))
    const slow: Operation = { op: 'replace', path: 'slow.txt', find: '(a+)+b|!', replace: '!', regex: true }
    const pending = planInWorker(root, Array.from({ length: 199 }, () => slow), { budgetMs: 120_000 }).catch((e: unknown) => e)
    // The busy one is the planner whose CPU time grows.
    let busy: number | undefined
    while (busy === undefined) {
      await new Promise((r) => setTimeout(r, 20))
      busy = [...before].find(([pid, ticks]) => cpuTicks(pid) > ticks + 2)?.[0]
    }
    process.kill(busy, 'SIGKILL')
    const err = await pending
    assert.ok(err instanceof RejectError, String(err))
    assert.equal(err.code, 'PLAN_CRASHED', err.message)
    assert.equal((await planInWorker(root, [write])).length, 1)
  })

  it('plans V4A and diff patches exactly as planning on the calling thread does, rejections included', async () => {
    const root = makeRepo({ 'app.py': 'class A:\n    def f(self):\n        return 1\n', 'bin/run': { exec: '#!/bin/sh\necho a\n' }, 'old.txt': 'old\n' })
    writeFileSync(path.join(root, 'notes.txt'), 'one\ntwo\n')
    git(root, 'add', '-A')
    git(root, 'commit', '-q', '-m', 'notes')
    const v4a: Operation = {
      op: 'apply_patch',
      patch: ['*** Begin Patch', '*** Update File: app.py', '@@ class A:', '     def f(self):', '-        return 1', '+        return 2', '*** Add File: pkg/new.py', '+x = 1', '*** Delete File: old.txt', '*** End Patch'].join('\n'),
    }
    const diff: Operation = {
      op: 'diff',
      diff: ['diff --git a/notes.txt b/notes.txt', '--- a/notes.txt', '+++ b/notes.txt', '@@ -1,2 +1,3 @@', ' one', '-two', '+2', '+three', 'diff --git a/bin/run b/bin/run', 'old mode 100755', 'new mode 100644', ''].join('\n'),
    }
    const ops = [v4a, diff, { op: 'rename', from: 'pkg/new.py', to: 'pkg/renamed.py' } as Operation]
    const inThread = await planOperations(root, ops)
    assert.deepEqual(inThread.map((c) => c.path), ['old.txt', 'app.py', 'bin/run', 'notes.txt', 'pkg/renamed.py'])
    assert.deepEqual(await planInWorker(root, ops), inThread)

    const failing: Operation[] = [v4a, { op: 'insert', path: 'notes.txt', after: 'nowhere', contents: 'x' }]
    const here = await planOperations(root, failing).catch((e: unknown) => e as RejectError)
    const there = await expectRejectInWorker(root, failing, 'CONTEXT_NOT_FOUND')
    assert.deepEqual(there.toPatchError(), (here as RejectError).toPatchError())
  })

  it('a failure that is not the patch’s (no such workspace) is a plain error, not a rejection', async () => {
    const err = await planInWorker(path.join(tempDir(), 'missing'), [{ op: 'write', path: 'a', contents: 'a' }]).catch((e: unknown) => e)
    assert.ok(err instanceof Error && !(err instanceof RejectError), String(err))
    assert.match(err.message, /ENOENT/)
  })
})
