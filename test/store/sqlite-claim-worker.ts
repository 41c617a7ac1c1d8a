// Child process for the multi-process test: claims and completes until the queue is empty,
// printing one JSON line per claim so the parent can check nothing was claimed twice.
import { openSqliteStore } from '../../src/store/sqlite/index.js'

const [file, runnerId] = process.argv.slice(2)
if (!file || !runnerId) throw new Error('usage: sqlite-claim-worker <file> <runner-id>')

const store = await openSqliteStore({ file })
// A start barrier, so that process start-up time does not let one worker drain the queue alone.
process.stdout.write('ready\n')
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()))
process.stdin.pause()
const result = { commit: null, tag: null, files: [], checks: [], durations_ms: {} }
for (;;) {
  const c = await store.claim(runnerId, { targets: null, leaseMs: 60_000 })
  if (c) {
    process.stdout.write(`${JSON.stringify({ id: c.record.id, target: c.record.target, token: c.token })}\n`)
    // Hold the patch briefly, as a runner applying it would, so other processes take other lanes.
    await new Promise((r) => setTimeout(r, 1))
    if (!(await store.complete(c.record.id, c.token, result))) throw new Error(`complete refused for ${c.record.id}`)
    continue
  }
  // Nothing claimable: done once no lane has work left, otherwise another process holds a head.
  const counts = await store.counts()
  if (counts.every((t) => t.queued === 0 && t.running === 0)) break
  await new Promise((r) => setTimeout(r, 2))
}
await store.close()
