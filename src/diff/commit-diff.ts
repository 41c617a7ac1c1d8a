import { realpath } from 'node:fs/promises'
import path from 'node:path'
import type { WorkspaceConfig } from '../config.js'
import { gitMaybe, runGit, type GitRepo } from '../runner/workspace/git.js'

/** The most diff text one answer carries: a reviewer's page, not a mirror of the repository. */
export const DIFF_MAX_BYTES = 1024 * 1024
/** How long git may take over one diff before the request gives up on it. */
export const DIFF_TIMEOUT_MS = 10_000

const COMMIT = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/

export type CommitDiff =
  | {
      ok: true
      /** Unified diff in git style, whole files only. */
      text: string
      /** Files were left out to stay within DIFF_MAX_BYTES. */
      truncated: boolean
    }
  | { ok: false; reason: string }

const unavailable = (reason: string): CommitDiff => ({ ok: false, reason })

/**
 * The workspace's repository as this process finds it, or null. Unlike the runner's
 * locateWorkspace it never creates, clones or switches anything: a gateway that does not hold
 * the workspace (a `serve` on another machine) simply has no diff to show. git looks only at the
 * configured path, and only a repository whose top is that path counts.
 */
export async function findRepository(ws: WorkspaceConfig): Promise<GitRepo | null> {
  let root: string
  try {
    root = await realpath(ws.path)
  } catch {
    return null
  }
  let out: string | null
  try {
    out = await gitMaybe(['rev-parse', '--show-toplevel', '--absolute-git-dir'], { cwd: root, timeoutMs: DIFF_TIMEOUT_MS })
  } catch {
    return null
  }
  const [top, gitDir] = out === null ? [] : out.replace(/\n$/, '').split('\n')
  if (!top || !gitDir || path.resolve(top) !== root) return null
  return { root, gitDir }
}

/** Cuts `text` after the last whole file that fits in `max` bytes. */
function wholeFiles(text: string, max: number): string {
  const head = Buffer.from(text).subarray(0, max).toString('utf8')
  const cut = head.lastIndexOf('\ndiff --git ')
  return cut < 0 ? '' : head.slice(0, cut + 1)
}

/**
 * The change one commit made, as `git diff-tree -p` shows it against its parent (renames
 * detected; external diff drivers and textconv filters off, so nothing configured for the tree
 * runs). Bounded in time and size: past DIFF_MAX_BYTES, whole files are left out from the end.
 */
export async function commitDiff(ws: WorkspaceConfig, commit: string): Promise<CommitDiff> {
  if (!COMMIT.test(commit)) return unavailable(`the recorded commit "${commit.slice(0, 80)}" is not a full commit id`)
  const repo = await findRepository(ws)
  if (repo === null) return unavailable('this server does not hold the workspace repository')
  const opts = { repo, timeoutMs: DIFF_TIMEOUT_MS }
  try {
    if ((await gitMaybe(['cat-file', '-e', `${commit}^{commit}`], opts)) === null) {
      return unavailable(`commit ${commit} is not in the workspace repository (history rewritten?)`)
    }
    const res = await runGit(
      ['diff-tree', '-r', '-p', '-M', '--root', '--no-commit-id', '--no-color', '--no-ext-diff', '--no-textconv', commit],
      { ...opts, maxBuffer: DIFF_MAX_BYTES },
    )
    const text = res.stdout.toString('utf8')
    // Output beyond maxBuffer stops git (it is killed too): what came before is kept, whole files only.
    if (res.error !== null && /maxBuffer/i.test(res.error)) return { ok: true, text: wholeFiles(text, DIFF_MAX_BYTES), truncated: true }
    if (res.killed) return unavailable(`git took longer than ${DIFF_TIMEOUT_MS} ms to produce the diff`)
    if (res.exitCode !== 0) return unavailable(`git diff-tree failed: ${res.stderr.toString('utf8').trim().split('\n').slice(-1)[0] ?? res.error ?? ''}`)
    return { ok: true, text, truncated: false }
  } catch (err) {
    return unavailable(`git could not run: ${(err as Error).message}`)
  }
}
