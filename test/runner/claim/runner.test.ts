import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Runner } from '../../../src/runner/claim/runner.js'
import type { Store } from '../../../src/store/port.js'
import { commitCount, enqueue, git, makeWorkspace, openTestStore, patch, runNext, runnerConfig, silentLogger, status, workspace } from '../../helpers/git.js'

async function settle(store: Store, ids: string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const records = await Promise.all(ids.map((id) => store.get(id)))
    if (records.every((r) => r && !['queued', 'running'].includes(r.status))) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error('patches did not settle')
}

const slow = (ms: number) => ['node', '-e', `setTimeout(() => {}, ${ms})`]

describe('Runner', () => {
  it('runs targets in parallel and each target strictly in arrival order', async () => {
    const a = makeWorkspace({ 'log.txt': '' })
    const b = makeWorkspace({ 'log.txt': '' })
    const config = runnerConfig({ A: workspace(a, { checks: { slow: slow(700) } }), B: workspace(b, { checks: { slow: slow(700) } }) })
    const store = await openTestStore()
    const write = (target: string, lines: string[]) => patch({ target, description: lines.at(-1)!, checks: ['slow'], operations: [{ op: 'write', path: 'log.txt', contents: lines.map((l) => `${l}\n`).join('') }] })
    const ids = [await enqueue(store, write('A', ['a1'])), await enqueue(store, write('A', ['a1', 'a2'])), await enqueue(store, write('B', ['b1']))]
    const runner = new Runner({ store, config, log: silentLogger })
    await runner.start()
    let sawParallel = false
    let sawTwoInOneLane = false
    const watch = setInterval(() => {
      const targets = runner.inFlight.map((id) => (id === ids[2] ? 'B' : 'A'))
      if (targets.includes('A') && targets.includes('B')) sawParallel = true
      if (targets.filter((t) => t === 'A').length > 1) sawTwoInOneLane = true
    }, 10)
    try {
      await settle(store, ids)
    } finally {
      clearInterval(watch)
      await runner.stop()
    }
    assert.ok(sawParallel, 'A and B never ran at the same time')
    assert.ok(!sawTwoInOneLane, 'two patches of one target ran at once')
    assert.deepEqual(git(a, 'log', '--format=%s', 'main').trim().split('\n'), ['[PATCH ' + ids[1] + '] a2', '[PATCH ' + ids[0] + '] a1', 'initial'])
    for (const id of ids) assert.equal((await store.get(id))!.status, 'applied')
  })

  it('stop() lets the in-flight patch finish and clears its timers', async () => {
    const root = makeWorkspace()
    const config = runnerConfig({ default: workspace(root, { checks: { slow: slow(800) } }) })
    const store = await openTestStore()
    const id = await enqueue(store, patch({ checks: ['slow'], operations: [{ op: 'write', path: 'x.txt', contents: 'x\n' }] }))
    const runner = new Runner({ store, config, log: silentLogger })
    await runner.start()
    while (runner.inFlight.length === 0) await new Promise((r) => setTimeout(r, 10))
    await runner.stop()
    assert.equal((await store.get(id))!.status, 'applied')
    assert.equal(status(root), '')
    // Stopped: a patch queued now stays queued.
    const later = await enqueue(store, patch({ operations: [{ op: 'write', path: 'y.txt', contents: 'y\n' }] }))
    runner.wake()
    await new Promise((r) => setTimeout(r, 300))
    assert.equal((await store.get(later))!.status, 'queued')
  })

  it('creates the default workspace under the data dir with an empty first commit', async () => {
    const config = runnerConfig({})
    const wsPath = path.join(config.dataDir, 'workspaces', 'default')
    config.workspaces.default = workspace(wsPath, { branch: 'trunk' })
    const store = await openTestStore()
    const runner = new Runner({ store, config, log: silentLogger })
    await runner.start()
    await runner.stop()
    assert.ok(existsSync(path.join(wsPath, '.git')))
    assert.equal(git(wsPath, 'symbolic-ref', '--short', 'HEAD').trim(), 'trunk')
    assert.equal(commitCount(wsPath), 1)
    assert.equal(git(wsPath, 'show', '--name-only', '--format=', 'HEAD').trim(), '')
    await enqueue(store, patch({ operations: [{ op: 'write', path: 'hello.txt', contents: 'hi\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'applied')
    assert.equal(git(wsPath, 'log', '-1', '--format=%s', 'trunk').trim(), `[PATCH ${record.id}] a test patch`)
  })

  it('does not create a missing workspace outside the data dir', async () => {
    const config = runnerConfig({})
    const missing = path.join(config.dataDir, '..', `not-there-${process.pid}`)
    config.workspaces.default = workspace(missing)
    const store = await openTestStore()
    await enqueue(store, patch({ operations: [{ op: 'write', path: 'x.txt', contents: 'x\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.status, 'failed')
    assert.equal(record.error?.code, 'WORKSPACE_UNAVAILABLE')
    assert.ok(!existsSync(missing))
  })

  it('switches a clean workspace to its branch, and refuses a directory inside another repository', async () => {
    const root = makeWorkspace()
    git(root, 'checkout', '-q', '-b', 'feature')
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    await enqueue(store, patch({ operations: [{ op: 'write', path: 'x.txt', contents: 'x\n' }] }))
    assert.equal((await runNext(store, config)).record.status, 'applied')
    assert.equal(git(root, 'symbolic-ref', '--short', 'HEAD').trim(), 'main')

    mkdirSync(path.join(root, 'sub'))
    writeFileSync(path.join(root, 'sub', 'f'), '')
    git(root, 'add', '-A')
    git(root, 'commit', '-qm', 'sub')
    config.workspaces.default = workspace(path.join(root, 'sub'))
    await enqueue(store, patch({ operations: [{ op: 'write', path: 'x.txt', contents: 'x\n' }] }))
    const { record } = await runNext(store, config)
    assert.equal(record.error?.code, 'WORKSPACE_UNAVAILABLE')
  })
})
