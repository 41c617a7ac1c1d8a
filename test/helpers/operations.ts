import { execFileSync } from 'node:child_process'
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import assert from 'node:assert/strict'
import { planOperations, RejectError, type FileChange, type RejectCode } from '../../src/runner/operations/index.js'
import type { Operation } from '../../src/schemas/patch.js'
import { tempDir as sharedTempDir } from './temp.js'

const GIT_ENV: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GIT_'))),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: os.devNull,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}


export const tempDir = (prefix = 'ops-test-'): string => sharedTempDir(prefix)

export type Tree = Record<string, string | Buffer | { link: string } | { exec: string | Buffer }>

export function writeTree(root: string, tree: Tree): void {
  for (const [rel, spec] of Object.entries(tree)) {
    const abs = path.join(root, rel)
    mkdirSync(path.dirname(abs), { recursive: true })
    rmSync(abs, { force: true })
    if (typeof spec === 'string' || Buffer.isBuffer(spec)) {
      writeFileSync(abs, spec)
      chmodSync(abs, 0o644)
    } else if ('link' in spec) {
      symlinkSync(spec.link, abs)
    } else {
      writeFileSync(abs, spec.exec)
      chmodSync(abs, 0o755)
    }
  }
}

/** A git work tree holding `tree`, committed. */
export function makeRepo(tree: Tree): string {
  const root = tempDir('ops-repo-')
  git(root, 'init', '-q', '-b', 'main')
  writeTree(root, tree)
  git(root, 'add', '-A')
  git(root, 'commit', '-q', '--allow-empty', '-m', 'initial')
  return root
}

/** Every entry under `root` (including .git) with its type, mode and bytes. */
export function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const abs = path.join(dir, name)
      const rel = path.relative(root, abs)
      const st = lstatSync(abs)
      if (st.isSymbolicLink()) out.set(rel, `link:${readlinkSync(abs)}`)
      else if (st.isDirectory()) {
        out.set(rel, `dir:${(st.mode & 0o777).toString(8)}`)
        walk(abs)
      } else out.set(rel, `file:${(st.mode & 0o777).toString(8)}:${readFileSync(abs).toString('base64')}:${st.mtimeMs}`)
    }
  }
  walk(root)
  return out
}

/** Plans `ops` and asserts it rejects with `code`, leaving every byte under root as it was. */
export async function expectReject(root: string, ops: Operation[], code: RejectCode, opts: { regexTimeoutMs?: number } = {}): Promise<RejectError> {
  const before = snapshot(root)
  const err = await planOperations(root, ops, opts).then(
    () => assert.fail(`expected ${code}, but the patch planned cleanly`),
    (e: unknown) => e,
  )
  assert.ok(err instanceof RejectError, `expected a RejectError, got ${String(err)}`)
  assert.equal(err.code, code, `${err.code}: ${err.message} (${err.detail ?? ''})`)
  assert.deepEqual(snapshot(root), before, 'workspace changed')
  return err
}

/** Plans `ops`, checks the workspace was not touched, and returns the changes. */
export async function plan(root: string, ops: Operation[]): Promise<FileChange[]> {
  const before = snapshot(root)
  const changes = await planOperations(root, ops)
  assert.deepEqual(snapshot(root), before, 'planning wrote to the workspace')
  return changes
}

/** A minimal writer, as the workspace would do it: removals, then files (never through links). */
export function writeChanges(root: string, changes: FileChange[]): void {
  for (const c of changes) {
    const abs = path.join(root, c.path)
    if (c.before !== null) unlinkSync(abs)
    if (c.after === null) continue
    mkdirSync(path.dirname(abs), { recursive: true })
    if (c.after.mode === 0o120000) symlinkSync(c.after.contents.toString('utf8'), abs)
    else {
      writeFileSync(abs, c.after.contents)
      chmodSync(abs, c.after.mode === 0o100755 ? 0o755 : 0o644)
    }
  }
}

/** The final text of each changed file (null when removed), for compact assertions. */
export function afterText(changes: FileChange[]): Record<string, string | null> {
  return Object.fromEntries(changes.map((c) => [c.path, c.after === null ? null : c.after.contents.toString('utf8')]))
}
