import { execFileSync } from 'node:child_process'
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after } from 'node:test'
import { Value } from '@sinclair/typebox/value'
import { defineConfig, WorkspaceConfig, type Config } from '../../src/config.js'
import { newPatchId, sha256 } from '../../src/ingest/ids.js'
import type { Outcome } from '../../src/runner/attempt/context.js'
import { executePatch } from '../../src/runner/attempt/execute.js'
import { LeaseKeeper } from '../../src/runner/claim/lease.js'
import type { RunnerLogger } from '../../src/runner/logger.js'
import type { NormalizedPatch } from '../../src/schemas/patch.js'
import type { PatchRecord } from '../../src/schemas/record.js'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import type { Store } from '../../src/store/port.js'
import { tempDir } from './temp.js'

const GIT_ENV: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GIT_'))),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: os.devNull,
  GIT_AUTHOR_NAME: 'Person',
  GIT_AUTHOR_EMAIL: 'person@example.com',
  GIT_COMMITTER_NAME: 'Person',
  GIT_COMMITTER_EMAIL: 'person@example.com',
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

export { tempDir }

export type Tree = Record<string, string | { link: string } | { exec: string }>

export function writeTree(root: string, tree: Tree): void {
  for (const [rel, spec] of Object.entries(tree)) {
    const abs = path.join(root, rel)
    mkdirSync(path.dirname(abs), { recursive: true })
    rmSync(abs, { force: true })
    if (typeof spec === 'string') {
      writeFileSync(abs, spec)
      chmodSync(abs, 0o644)
    } else if ('link' in spec) symlinkSync(spec.link, abs)
    else {
      writeFileSync(abs, spec.exec)
      chmodSync(abs, 0o755)
    }
  }
}

/** A repository on branch main with one commit holding `tree`. */
export function makeWorkspace(tree: Tree = { 'README.md': '# demo\n' }): string {
  const root = tempDir('gr-ws-')
  git(root, 'init', '-q', '-b', 'main')
  writeTree(root, tree)
  git(root, 'add', '-A')
  git(root, 'commit', '-q', '--allow-empty', '-m', 'initial')
  return root
}

/**
 * A workspace whose branch is pushed to a bare remote, and a second clone of that remote standing
 * for another runner machine or someone else pushing.
 */
export function withRemote(): { root: string; remote: string; other: string } {
  const root = makeWorkspace({ 'a.txt': 'a\n' })
  const remote = path.join(tempDir('gr-remote-'), 'remote.git')
  git(path.dirname(remote), 'init', '-q', '--bare', '-b', 'main', remote)
  git(root, 'push', '-q', remote, 'main')
  const other = path.join(tempDir('gr-other-'), 'other')
  git(path.dirname(other), 'clone', '-q', remote, other)
  return { root, remote, other }
}

/** Every entry of the work tree (not .git) with its type, permission bits and bytes. */
export function treeState(root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (dir === root && name === '.git') continue
      const abs = path.join(dir, name)
      const rel = path.relative(root, abs)
      const st = lstatSync(abs)
      if (st.isSymbolicLink()) out[rel] = `link:${readlinkSync(abs)}`
      else if (st.isDirectory()) {
        out[rel] = `dir:${(st.mode & 0o7777).toString(8)}`
        walk(abs)
      } else out[rel] = `file:${(st.mode & 0o7777).toString(8)}:${readFileSync(abs).toString('base64')}`
    }
  }
  walk(root)
  return out
}

export const status = (root: string) => git(root, 'status', '--porcelain', '--untracked-files=all')
export const head = (root: string) => git(root, 'rev-parse', 'HEAD').trim()
export const commitCount = (root: string) => Number(git(root, 'rev-list', '--count', 'HEAD').trim())
/** Commits on main whose message carries `Patch-Id: <id>`. */
export const commitsFor = (root: string, id: string) =>
  git(root, 'log', '--format=%H', '--fixed-strings', `--grep=Patch-Id: ${id}`, 'main').split('\n').filter(Boolean)

export function workspace(root: string, over: Partial<WorkspaceConfig> = {}): WorkspaceConfig {
  return Value.Default(WorkspaceConfig, {
    path: root,
    branch: 'main',
    checks: {
      ok: ['node', '-e', 'process.exit(0)'],
      fail: ['node', '-e', 'console.log("compiling…"); console.error("3 tests failed"); process.exit(3)'],
      sleep: ['node', '-e', 'setTimeout(() => {}, 60000)'],
    },
    checkTimeoutMs: 10_000,
    author: { name: 'Ghost Runner', email: 'ghost@example.com' },
    tagPrefix: '',
    ...over,
  }) as WorkspaceConfig
}

export function runnerConfig(workspaces: Record<string, WorkspaceConfig>, over: Partial<Config> = {}): Config {
  return defineConfig({
    dataDir: tempDir('gr-data-'),
    logLevel: 'silent',
    workspaces,
    runner: { leaseMs: 10_000, heartbeatMs: 200, pollMs: 50, maxAttempts: 3, concurrency: 4 },
    ...over,
  })
}

export async function openTestStore(dataDir = tempDir('gr-store-')): Promise<Store> {
  const store = await openSqliteStore({ file: path.join(dataDir, 'ghost-runner.db') })
  after(() => store.close())
  return store
}

export function patch(over: Partial<NormalizedPatch> & Pick<NormalizedPatch, 'operations'>): NormalizedPatch {
  return { target: 'default', client_id: null, format: 'native', description: 'a test patch', checks: [], commit: {}, metadata: {}, ...over }
}

/** Enqueues a normalised patch directly (no webhook validation: the runner must defend itself). */
export async function enqueue(store: Store, p: NormalizedPatch): Promise<string> {
  const id = newPatchId()
  const res = await store.enqueue({ id, idempotencyKey: null, bodyHash: sha256(JSON.stringify(p)), patch: p })
  if (res.outcome !== 'created') throw new Error(`enqueue: ${res.outcome}`)
  return id
}

const silent: RunnerLogger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
  child: () => silent,
}
export const silentLogger = silent

/** Claims the next patch and executes it as a runner would; resolves to the outcome and the record. */
export async function runNext(store: Store, config: Config, runnerId = 'test-runner'): Promise<{ outcome: Outcome; record: PatchRecord }> {
  const claimed = await store.claim(runnerId, { targets: null, leaseMs: config.runner.leaseMs })
  if (!claimed) throw new Error('nothing to claim')
  const lease = new LeaseKeeper(store, claimed.record.id, claimed.token, config.runner.leaseMs, claimed.leaseExpiresAt, silent)
  lease.start(config.runner.heartbeatMs)
  try {
    const outcome = await executePatch({ store, config, runnerId, claimed, lease, log: silent })
    const record = await store.get(claimed.record.id)
    return { outcome, record: record! }
  } finally {
    await lease.stop()
  }
}
