import type { WorkspaceConfig } from '../config.js'
import { PatchFailure } from './failure.js'
import { git, GitError, gitMaybe } from './git.js'
import { branchHead } from './workspace.js'

const NETWORK_TIMEOUT_MS = 120_000

const isAncestor = async (root: string, a: string, b: string) =>
  (await gitMaybe(['merge-base', '--is-ancestor', a, b], { cwd: root })) !== null

/**
 * Brings the (clean) workspace branch up to the remote's: fast-forwards when behind, pushes
 * commits a previous attempt made but could not push when ahead, refuses when they diverged.
 */
export async function syncFromRemote(ws: WorkspaceConfig, root: string): Promise<void> {
  if (ws.remote === undefined) return
  try {
    await git(['fetch', '-q', '--tags', '--', ws.remote, `refs/heads/${ws.branch}`], { cwd: root, timeoutMs: NETWORK_TIMEOUT_MS })
  } catch (err) {
    // An empty remote has no branch yet: the first push creates it.
    if (err instanceof GitError && /couldn't find remote ref/i.test(err.stderr)) return
    throw new PatchFailure('failed', 'REMOTE_UNAVAILABLE', `could not fetch ${ws.branch} from the remote`, { detail: String(err) })
  }
  const remote = (await git(['rev-parse', '--verify', 'FETCH_HEAD^{commit}'], { cwd: root })).trim()
  const local = await branchHead(root, ws.branch)
  if (local === remote) return
  if (local === null || (await isAncestor(root, local, remote))) {
    await git(['merge', '-q', '--ff-only', remote], { cwd: root })
    return
  }
  if (await isAncestor(root, remote, local)) {
    await pushToRemote(ws, root, null)
    return
  }
  throw new PatchFailure('failed', 'REMOTE_DIVERGED', `the workspace branch ${ws.branch} and the remote's have diverged; a person must reconcile them`)
}

/** Pushes the branch (and the tag) atomically. `rejected`: someone pushed first, so try the patch again. */
export async function pushToRemote(ws: WorkspaceConfig, root: string, tag: string | null): Promise<'pushed' | 'rejected'> {
  if (ws.remote === undefined) return 'pushed'
  const refs = [`refs/heads/${ws.branch}:refs/heads/${ws.branch}`, ...(tag === null ? [] : [`refs/tags/${tag}:refs/tags/${tag}`])]
  try {
    await git(['push', '-q', '--atomic', '--', ws.remote, ...refs], { cwd: root, timeoutMs: NETWORK_TIMEOUT_MS })
    return 'pushed'
  } catch (err) {
    if (err instanceof GitError && /\[rejected\]|non-fast-forward|fetch first|stale info/i.test(err.stderr)) return 'rejected'
    throw new PatchFailure('failed', 'PUSH_FAILED', 'could not push the commit to the remote; the workspace was restored', { detail: String(err) })
  }
}
