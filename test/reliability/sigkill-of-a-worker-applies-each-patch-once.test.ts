import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import type { Store } from '../../src/store/port.js'
import type { PatchRecord } from '../../src/schemas/record.js'
import { commitsFor, enqueue, makeWorkspace, patch, status, tempDir } from '../helpers/git.js'
import { kill, spawnWorker, type CliProcess } from '../helpers/process.js'

async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs: number, worker?: CliProcess): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${worker ? `\n${worker.output()}` : ''}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

function setup(checkMs: number, runner: Record<string, number>) {
  const root = makeWorkspace({ 'a.txt': 'a\n' })
  const dataDir = tempDir('gr-data-')
  const configFile = path.join(dataDir, 'config.json')
  writeFileSync(
    configFile,
    JSON.stringify({
      workspaces: { default: { path: root, branch: 'main', checks: { slow: ['node', '-e', `setTimeout(() => {}, ${checkMs})`] }, checkTimeoutMs: 30_000 } },
      runner,
    }),
  )
  return { root, dataDir, env: { GHOST_DATA_DIR: dataDir, GHOST_CONFIG: configFile } }
}

const FINAL = ['applied', 'failed', 'rejected', 'cancelled']

async function claimCount(store: Store, ids: string[]): Promise<number> {
  const records = await Promise.all(ids.map((id) => store.get(id)))
  return records.reduce((n, r) => n + (r?.events.filter((e) => e.reason === 'claimed').length ?? 0), 0)
}

async function allSettled(store: Store, ids: string[]): Promise<boolean> {
  const records = await Promise.all(ids.map((id) => store.get(id)))
  return records.every((r) => r !== null && FINAL.includes(r.status))
}

describe('SIGKILL of `ghost-runner work`', () => {
  it('mid-check: after a restart the patch is applied exactly once, from a clean tree', async () => {
    const { root, dataDir, env } = setup(2500, { leaseMs: 1500, heartbeatMs: 200, pollMs: 100, maxAttempts: 3 })
    const store: Store = await openSqliteStore({ file: path.join(dataDir, 'ghost-runner.db') })
    try {
      const id = await enqueue(store, patch({ checks: ['slow'], commit: { tag: 'v1' }, operations: [{ op: 'write', path: 'a.txt', contents: 'b\n' }, { op: 'write', path: 'new/b.txt', contents: 'b\n' }] }))
      let worker = spawnWorker(env)
      const marker = path.join(root, '.git', 'ghost-runner', 'check.json')
      await until('the check to start', () => existsSync(marker), 20_000, worker)
      const orphan = JSON.parse(readFileSync(marker, 'utf8')) as { pid: number }
      await kill(worker.child, 'SIGKILL')
      assert.notEqual(status(root), '', 'the patch was half-way: written, not committed')
      assert.equal((await store.get(id))!.status, 'running')

      worker = spawnWorker(env)
      const record = await until('the patch to settle', async () => {
        const r = await store.get(id)
        return r && FINAL.includes(r.status) ? r : null
      }, 30_000, worker)
      assert.equal(record.status, 'applied', JSON.stringify(record.error))
      assert.equal(record.attempts, 2)
      assert.ok(record.events.some((e) => e.reason === 'lease_expired'))
      assert.deepEqual(commitsFor(root, id), [record.result!.commit])
      assert.equal(status(root), '')
      assert.equal(readFileSync(path.join(root, 'a.txt'), 'utf8'), 'b\n')
      assert.throws(() => process.kill(-orphan.pid, 0), 'the orphaned check group was killed')

      // Graceful stop: exits 0 and leaves the runner's heartbeat marked stopping.
      assert.equal(await kill(worker.child, 'SIGTERM'), 0, worker.output())
      assert.ok((await store.runners()).some((r) => r.info.stopping === true))
    } finally {
      await store.close()
    }
  })

  it('at random moments across a stream of patches: each ends applied with one commit, or failed with none', async () => {
    const { root, dataDir, env } = setup(600, { leaseMs: 1000, heartbeatMs: 150, pollMs: 50, maxAttempts: 20 })
    const store: Store = await openSqliteStore({ file: path.join(dataDir, 'ghost-runner.db') })
    try {
      const ids: string[] = []
      for (let i = 0; i < 6; i++) {
        ids.push(await enqueue(store, patch({ checks: ['slow'], operations: [{ op: 'write', path: `f${i}.txt`, contents: `${i}\n` }, { op: 'replace', path: 'a.txt', find: /\n$/.source, replace: `${i}\n`, regex: true }] })))
      }
      let settled: PatchRecord[] = []
      for (let round = 0; round < 6; round++) {
        const worker = spawnWorker(env)
        // Kill once the worker has claimed something, somewhere between the claim and a few patches later.
        const claimsBefore = await claimCount(store, ids)
        await until('a claim', async () => (await claimCount(store, ids)) > claimsBefore || (await allSettled(store, ids)), 30_000, worker)
        // The first kill lands inside the 600 ms check for certain; later ones anywhere.
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * (round === 0 ? 200 : 1500))))
        await kill(worker.child, 'SIGKILL')
        settled = (await Promise.all(ids.map((id) => store.get(id)))).filter((r): r is PatchRecord => r !== null && FINAL.includes(r.status))
        if (settled.length === ids.length) break
      }
      // One last clean run settles whatever the kills left.
      const worker = spawnWorker(env)
      const records = await until('every patch to settle', async () => {
        const all = await Promise.all(ids.map((id) => store.get(id)))
        return all.every((r) => r && FINAL.includes(r.status)) ? (all as PatchRecord[]) : null
      }, 60_000, worker)
      await kill(worker.child, 'SIGTERM')
      for (const r of records) {
        const commits = commitsFor(root, r.id)
        if (r.status === 'applied') assert.deepEqual(commits, [r.result!.commit], `${r.id}: ${r.events.map((e) => e.reason).join(',')}`)
        else assert.deepEqual(commits, [], `${r.id} ${r.status} ${r.error?.code}`)
      }
      assert.ok(records.some((r) => r.status === 'applied'))
      // The kills must have hit patches in flight, or this test proves nothing.
      const interrupted = records.filter((r) => r.events.some((e) => e.reason === 'lease_expired')).length
      assert.ok(interrupted > 0, 'no patch was interrupted')
      assert.equal(status(root), '')
    } finally {
      await store.close()
    }
  })
})
