import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { executePatch } from '../../../src/runner/attempt/execute.js'
import { LeaseKeeper } from '../../../src/runner/claim/lease.js'
import type { RunnerLogger } from '../../../src/runner/logger.js'
import type { Store } from '../../../src/store/port.js'
import { commitCount, commitsFor, enqueue, makeWorkspace, openTestStore, patch, runNext, runnerConfig, silentLogger, status, treeState, workspace } from '../../helpers/git.js'

const FAR_FUTURE = Date.now() + 24 * 3600_000

/** A logger that keeps every line, with its level, for the assertions. */
function capturingLogger(): { log: RunnerLogger; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = []
  const at =
    (level: string) =>
    (...args: unknown[]) => {
      const msg = args.find((a): a is string => typeof a === 'string') ?? ''
      lines.push({ level, msg })
    }
  const log: RunnerLogger = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: () => log,
  }
  return { log, lines }
}

describe('LeaseKeeper', () => {
  it('a heartbeat that finds the lease ended by the recorded outcome warns of nothing', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    const config = runnerConfig({ default: workspace(root) })
    const store = await openTestStore()
    const id = await enqueue(store, patch({ operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    const claimed = (await store.claim('r1', { targets: null, leaseMs: 60_000 }))!
    const { log, lines } = capturingLogger()
    // Not started: the heartbeat below stands for one that was in flight while the outcome was recorded.
    const lease = new LeaseKeeper(store, id, claimed.token, 60_000, claimed.leaseExpiresAt, log)
    const outcome = await executePatch({ store, config, runnerId: 'r1', claimed, lease, log })
    assert.equal(outcome.status, 'applied')
    assert.equal((await store.get(id))!.status, 'applied')

    await lease.beat()
    await lease.stop()
    assert.deepEqual(lines.filter((l) => l.level === 'warn' || l.level === 'error'), [])
    assert.ok(lines.some((l) => l.level === 'debug' && /lease ended/.test(l.msg)), JSON.stringify(lines))
  })

  it('a heartbeat that finds the lease reaped before any outcome warns that it was lost and aborts the work', async () => {
    makeWorkspace()
    const store = await openTestStore()
    const id = await enqueue(store, patch({ operations: [] }))
    const claimed = (await store.claim('r1', { targets: null, leaseMs: 60_000 }))!
    const { log, lines } = capturingLogger()
    const lease = new LeaseKeeper(store, id, claimed.token, 60_000, claimed.leaseExpiresAt, log)
    assert.equal(await store.reapExpired({ maxAttempts: 3, now: FAR_FUTURE }), 1)

    await lease.beat()
    assert.equal(lease.lost, true)
    assert.equal(lease.signal.aborted, true)
    assert.deepEqual(lines.filter((l) => l.level === 'warn').map((l) => l.msg), ['lease lost: abandoning the patch'])
  })

  it('a lease that runs out while its heartbeats hang and its check passes ends without a commit, the tree restored and the patch left for the next claim', async () => {
    const leaseMs = 1000
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    // Passes, but only after the lease has run out: it starts after the last heartbeat that reached the store.
    const outlast = ['node', '-e', `setTimeout(() => {}, ${leaseMs + 300})`]
    const config = runnerConfig(
      { default: workspace(root, { checks: { outlast } }) },
      { runner: { leaseMs, heartbeatMs: 100, pollMs: 50, maxAttempts: 3, concurrency: 1 } },
    )
    const store = await openTestStore()
    const before = treeState(root)
    const id = await enqueue(store, patch({ checks: ['outlast'], operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }] }))
    const claimed = (await store.claim('stalled', { targets: null, leaseMs }))!

    // The store answers heartbeats until the check starts; from then on a heartbeat never comes
    // back, as on a connection that stopped answering. Nothing refuses one, so nothing aborts the check.
    const checkRunning = path.join(root, '.git', 'ghost-runner', 'check.json')
    const hung: (() => void)[] = []
    const stalling = new Proxy(store, {
      get(target, prop) {
        if (prop === 'heartbeat') {
          return (...args: Parameters<Store['heartbeat']>) =>
            existsSync(checkRunning) ? new Promise<boolean>((resolve) => hung.push(() => resolve(false))) : target.heartbeat(...args)
        }
        const value: unknown = Reflect.get(target, prop, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const lease = new LeaseKeeper(stalling, id, claimed.token, leaseMs, claimed.leaseExpiresAt, silentLogger)
    lease.start(config.runner.heartbeatMs)
    try {
      const outcome = await executePatch({ store, config, runnerId: 'stalled', claimed, lease, log: silentLogger })
      assert.deepEqual(commitsFor(root, id), [], 'no commit for the patch')
      assert.equal(outcome.status, 'abandoned')
      assert.ok(hung.length > 0, 'a heartbeat hung while the check ran')
      assert.deepEqual(treeState(root), before)
      assert.equal(status(root), '')
      assert.equal(commitCount(root), 1)
      // Nothing recorded: the patch waits, still under the lapsed lease, for the reaper.
      assert.equal((await store.get(id))!.status, 'running')
    } finally {
      for (const release of hung) release()
      await lease.stop()
    }

    assert.equal(await store.reapExpired({ maxAttempts: 3 }), 1)
    assert.equal((await store.get(id))!.status, 'queued')
    const { outcome, record } = await runNext(store, config, 'next')
    assert.equal(outcome.status, 'applied', JSON.stringify(record.error))
    assert.equal(record.attempts, 2)
    assert.deepEqual(commitsFor(root, id), [record.result!.commit])
    assert.equal(readFileSync(path.join(root, 'a.txt'), 'utf8'), 'b\n')
    assert.equal(commitCount(root), 2)
  })
})
