import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, it } from 'node:test'
import type { Config } from '../../src/config.js'
import { auth, testApp } from '../helpers/app.js'

/** A small tmpfs as the data directory: the one way to run a disk out of space without touching the host's. */
function smallDisk(sizeMb: number): string | null {
  const parent = mkdtempSync(path.join(tmpdir(), 'gr-disk-'))
  const dir = path.join(parent, 'data')
  mkdirSync(dir)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch {
    rmSync(parent, { recursive: true })
    return null
  }
  // Lazily: the app still holds the database open until its own after() hook closes it.
  after(() => {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
    rmSync(parent, { recursive: true, force: true })
  })
  return dir
}

/** Writes zeros into `file` until the filesystem refuses (ENOSPC). */
function fill(file: string): void {
  const fd = openSync(file, 'w')
  const chunk = Buffer.alloc(64 * 1024)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    closeSync(fd)
  }
}

const patch = (n: number) => ({ target: 'default', description: `p${n}`, operations: [{ op: 'write', path: `f${n}.txt`, contents: 'x'.repeat(2048) }] })

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const mounted = smallDisk(16)

it('with the data disk full, /webhook answers 503 STORE_UNAVAILABLE, fs_writable turns false and readiness 503; freed, it recovers without a restart', { skip: mounted === null && 'mounting a tmpfs needs root' }, async () => {
  const dataDir = mounted!
  // Disk thresholds scaled to the 16 MiB disk: below 1 MiB free is full.
  const app = await testApp({ dataDir, health: { intervalMs: 200, diskWarnMb: 2, diskFailMb: 1 } as Config['health'], limits: { queueDepth: 100_000, ratePerMinute: 100_000 } })
  const post = (n: number) => app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: patch(n) })
  const health = async () => (await app.inject({ method: 'GET', url: '/health' })).json() as { components: { fs_writable: boolean }; overall_status: string; checks: Record<string, { status: string }> }
  const ready = async () => (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode

  await until('ready', async () => (await ready()) === 200)
  const first = await post(0)
  assert.equal(first.statusCode, 202)
  const accepted: string[] = [first.json().id]

  const filler = path.join(dataDir, 'filler')
  fill(filler)
  // SQLite may still have room in pages it already owns: keep posting until the store refuses.
  let refused = null
  for (let n = 1; n < 2000 && refused === null; n++) {
    const res = await post(n)
    if (res.statusCode === 202) accepted.push(res.json().id)
    else refused = res
  }
  assert.ok(refused, 'the store never refused a write on a full disk')
  assert.equal(refused.statusCode, 503, refused.body)
  assert.match(String(refused.headers['content-type']), /^application\/problem\+json/)
  assert.equal(refused.json().code, 'STORE_UNAVAILABLE')
  assert.ok(Number(refused.headers['retry-after']) > 0)
  assert.doesNotMatch(refused.body, /SQLITE|ENOSPC|\/tmp\//, 'a 5xx hides internals')

  await until('fs_writable to turn false', async () => (await health()).components.fs_writable === false)
  await until('readiness to turn 503', async () => (await ready()) === 503)
  // Under load a probe round can run late and read `unknown`; either way it is not ready.
  const body = await health()
  assert.notEqual(body.checks.fs_writable!.status, 'pass')
  assert.notEqual(body.overall_status, 'healthy')

  rmSync(filler)
  await until('fs_writable to recover', async () => (await health()).components.fs_writable === true)
  await until('readiness to recover', async () => (await ready()) === 200)
  const res = await post(9999)
  assert.equal(res.statusCode, 202, res.body)
  accepted.push(res.json().id)

  // Everything acknowledged before, during and after the fault is stored; the refused one is not.
  for (const id of accepted) assert.ok(await app.store.get(id), `${id} acknowledged but not stored`)
  const counts = await app.store.counts()
  assert.equal(counts.reduce((n, c) => n + c.queued, 0), accepted.length)
})
