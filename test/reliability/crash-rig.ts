import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import type { PatchRecord } from '../../src/schemas/record.js'
import { git, makeWorkspace, status, tempDir } from '../helpers/git.js'
import { kill, serviceToken, spawnService, type ServiceProcess } from '../helpers/process.js'

/**
 * A `ghost-runner start` service over two workspaces, killed again and again while clients post
 * patches, and checked after each restart. Each patch writes two files of its own and appends
 * its name to the workspace's shared log.txt, so a tree is the sum of its applied patches: a
 * patch half-written, applied twice or lost shows in the files.
 */
export interface CrashRig {
  workspaces: Record<string, string>
  dataDir: string
  env: Record<string, string>
  faultFile: string
  token: string
  /** Acknowledged (202) patch id → its target. */
  acked: Map<string, string>
  kills: number
}

export const TARGETS = ['alpha', 'beta'] as const
const FINAL = new Set(['applied', 'failed', 'rejected', 'cancelled'])

export function crashRig(): CrashRig {
  const dataDir = tempDir('gr-crash-')
  const workspaces = Object.fromEntries(TARGETS.map((t) => [t, makeWorkspace({ 'log.txt': 'start\n' })]))
  const configFile = path.join(dataDir, 'config.json')
  writeFileSync(
    configFile,
    JSON.stringify({
      workspaces: Object.fromEntries(
        TARGETS.map((t) => [t, { path: workspaces[t], branch: 'main', checks: { slow: ['node', '-e', 'setTimeout(() => {}, 150)'] }, checkTimeoutMs: 20_000 }]),
      ),
      // Short leases so a killed runner's patches come back quickly; attempts high enough that
      // no kill turns a patch into a give-up.
      runner: { leaseMs: 1000, heartbeatMs: 150, pollMs: 50, maxAttempts: 50, concurrency: 2 },
      limits: { queueDepth: 10_000, ratePerMinute: 100_000 },
      health: { intervalMs: 200, runnerStaleMs: 5000 },
    }),
  )
  const token = serviceToken()
  const faultFile = path.join(dataDir, 'fault')
  return {
    workspaces,
    dataDir,
    faultFile,
    token,
    acked: new Map(),
    kills: 0,
    env: { GHOST_DATA_DIR: dataDir, GHOST_CONFIG: configFile, GHOST_API_TOKENS: token, GHOST_FAULT_FILE: faultFile, GHOST_DRAIN_DELAY_MS: '0' },
  }
}

export const start = (rig: CrashRig) => spawnService('start', rig.env, { timeoutMs: 30_000 })

let serial = 0

/**
 * Clients posting patches until the service dies under them (or `stop` is set), at most `budget`
 * between them, so the runner keeps up and every cycle settles within a few seconds.
 */
export function postUntilDead(rig: CrashRig, svc: ServiceProcess, control: { stop: boolean }, budget = 6, clients = 2): Promise<void[]> {
  let posted = 0
  const client = async (c: number) => {
    while (!control.stop && posted++ < budget) {
      const target = TARGETS[serial % TARGETS.length]!
      const name = `p${serial++}`
      const body = {
        target,
        description: name,
        // Every third patch runs a check: the kill can land while one runs.
        ...(serial % 3 === 0 ? { checks: ['slow'] } : {}),
        operations: [
          { op: 'write', path: `a/${name}.txt`, contents: `${name}\n` },
          { op: 'write', path: `b/${name}.txt`, contents: `${name}\n` },
          { op: 'replace', path: 'log.txt', find: '\\n$', replace: `\n${name}\n`, regex: true },
        ],
      }
      try {
        const res = await fetch(`${svc.url}/webhook`, {
          method: 'POST',
          headers: { authorization: `Bearer ${rig.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
        const text = await res.text()
        if (res.status === 202) rig.acked.set((JSON.parse(text) as { id: string }).id, target)
        else assert.fail(`client ${c}: ${res.status} ${text}`)
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err
        return // the service died under us
      }
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100))
    }
  }
  return Promise.all(Array.from({ length: clients }, (_, c) => client(c)))
}

/** Arms a crash point: the service SIGKILLs itself the nth time it passes it. */
export function arm(rig: CrashRig, point: string, nth = 1): void {
  writeFileSync(rig.faultFile, `${point}:${nth}`)
}

export function disarm(rig: CrashRig): void {
  rmSync(rig.faultFile, { force: true })
}

export async function waitForExit(svc: ServiceProcess, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (svc.child.exitCode === null && svc.child.signalCode === null) {
    if (Date.now() > deadline) {
      await kill(svc.child)
      assert.fail(`the service never reached ${what} within ${timeoutMs} ms\n${svc.output().slice(-3000)}`)
    }
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * Checks taken while the service is dead: the database is intact, and a workspace with changes
 * has a journal the next runner can undo them from (a dead runner never leaves an unexplained change).
 */
export function checkWhileDead(rig: CrashRig): void {
  const db = new Database(path.join(rig.dataDir, 'ghost-runner.db'))
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  } finally {
    db.close()
  }
  for (const [name, root] of Object.entries(rig.workspaces)) {
    if (status(root) !== '') assert.ok(existsSync(path.join(root, '.git', 'ghost-runner', 'journal.json')), `${name} changed with no journal:\n${status(root)}`)
  }
}

async function allRecords(dataDir: string): Promise<PatchRecord[]> {
  const store = await openSqliteStore({ file: path.join(dataDir, 'ghost-runner.db') })
  try {
    const out: PatchRecord[] = []
    let cursor: string | undefined
    do {
      const page = await store.list({ limit: 200, cursor })
      for (const s of page.items) out.push((await store.get(s.id))!)
      cursor = page.next_cursor ?? undefined
    } while (cursor)
    return out
  } finally {
    await store.close()
  }
}

/** Waits until no patch is queued or running, then returns every record. */
export async function settle(rig: CrashRig, svc: ServiceProcess, timeoutMs = 60_000): Promise<PatchRecord[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const records = await allRecords(rig.dataDir)
    const open = records.filter((r) => !FINAL.has(r.status))
    if (open.length === 0) return records
    if (Date.now() > deadline) assert.fail(`${open.length} patches never settled: ${open.map((r) => `${r.id} ${r.status}`).join(', ')}\n${svc.output().slice(-3000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Patch ids in the order their commits landed on main, from the Patch-Id trailers. */
function landed(root: string): string[] {
  const log = git(root, 'log', '--reverse', '--format=%x1e%B', 'main')
  return log
    .split('\x1e')
    .map((body) => /^Patch-Id: (\S+)$/m.exec(body)?.[1])
    .filter((id): id is string => id !== undefined)
}

/**
 * The promises after a restart, once everything settled: every acknowledged patch exists and is
 * final; an applied patch has exactly one commit (the one it records), any other none; each
 * workspace is clean at its last commit, and that commit's tree holds exactly the applied
 * patches, each once, in commit order; git fsck finds nothing wrong.
 */
export function checkSettled(rig: CrashRig, records: PatchRecord[]): { applied: number } {
  const byId = new Map(records.map((r) => [r.id, r]))
  const lost = [...rig.acked.keys()].filter((id) => !byId.has(id))
  assert.deepEqual(lost, [], `${lost.length} of ${rig.acked.size} acknowledged patches lost`)
  let applied = 0
  for (const [target, root] of Object.entries(rig.workspaces)) {
    assert.equal(status(root), '', `${target} is not at a committed state:\n${status(root)}`)
    const order = landed(root)
    const mine = records.filter((r) => r.target === target)
    for (const r of mine) {
      const commits = order.filter((id) => id === r.id).length
      if (r.status === 'applied') {
        assert.equal(commits, 1, `${r.id} applied with ${commits} commits`)
        assert.equal(git(root, 'log', '-1', '--format=%B', r.result!.commit!).includes(`Patch-Id: ${r.id}`), true)
      } else {
        assert.equal(commits, 0, `${r.id} ${r.status} (${r.error?.code}) but committed`)
      }
      assert.notEqual(r.status, 'failed', `${r.id} failed: ${JSON.stringify(r.error)}`)
    }
    const names = order.map((id) => byId.get(id)?.description)
    assert.deepEqual(readFileSync(path.join(root, 'log.txt'), 'utf8'), ['start', ...names].join('\n') + '\n', `${target}: log.txt is not the applied patches in commit order`)
    const files = execFileSync('git', ['ls-files', 'a', 'b'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean).sort()
    assert.deepEqual(files, names.flatMap((n) => [`a/${n}.txt`, `b/${n}.txt`]).sort(), `${target}: files of unapplied patches present, or applied ones missing`)
    execFileSync('git', ['fsck', '--full', '--strict', '--no-dangling', '--no-progress'], { cwd: root, stdio: 'pipe' })
    applied += mine.filter((r) => r.status === 'applied').length
  }
  return { applied }
}
