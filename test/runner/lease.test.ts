import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { executePatch } from '../../src/runner/execute.js'
import { LeaseKeeper } from '../../src/runner/lease.js'
import type { RunnerLogger } from '../../src/runner/logger.js'
import { enqueue, makeWorkspace, openTestStore, patch, runnerConfig, workspace } from '../helpers/git.js'

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
})
