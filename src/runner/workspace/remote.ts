import type { WorkspaceConfig } from '../../config.js'
import { PatchFailure } from '../failure.js'
import { git, GitError, gitMaybe, type GitRepo } from './git.js'
import type { RunnerLogger } from '../logger.js'
import { patchLog, type LoggedCommit } from './patch-trailer.js'
import { branchHead } from './workspace.js'

const NETWORK_TIMEOUT_MS = 120_000

const isAncestor = async (repo: GitRepo, a: string, b: string) =>
  (await gitMaybe(['merge-base', '--is-ancestor', a, b], { repo })) !== null

/**
 * The local commits the remote lacks, when every one of them is a runner's commit for another
 * patch (its last trailer is a Patch-Id); null when there are none or any other commit is among them.
 */
async function strandedRunnerCommits(repo: GitRepo, remote: string, local: string, patchId: string | undefined): Promise<LoggedCommit[] | null> {
  const stranded = await patchLog(repo, `${remote}..${local}`)
  if (stranded.some(({ patch }) => patch === '' || patch === patchId)) return null
  return stranded.length > 0 ? stranded : null
}

export interface SyncOptions {
  /** The patch about to be applied: a commit for it is never dropped. */
  patchId?: string
  /** The branch head as the caller just read it (null: unborn), saving a git process. */
  local?: string | null
  log?: RunnerLogger
}

/**
 * Brings the (clean) workspace branch up to the remote's: fast-forwards when behind, pushes
 * commits made here but not pushed when ahead, refuses when they diverged. Resolves to the
 * branch head afterwards.
 *
 * Runner commits for other patches that never reached the remote are dropped first: a runner
 * killed between its commit and its push leaves one behind. The store hands out a target's
 * patches one at a time, in order, so by the time `patchId` was claimed each of those patches
 * had ended: applied again by another runner (pushing the stranded commit would apply it twice)
 * or failed (pushing it would land a patch recorded as not applied).
 */
export async function syncFromRemote(ws: WorkspaceConfig, repo: GitRepo, opts: SyncOptions = {}): Promise<string | null> {
  const local = opts.local !== undefined ? opts.local : await branchHead(repo, ws.branch)
  if (ws.remote === undefined) return local
  try {
    // --force: the remote's tags win over local ones of the same name, which can only be tags
    // of commits that never reached it (or that a person made and could never push). No
    // maintenance here: the commit that follows runs the same check.
    await git(['fetch', '-q', '--tags', '--force', '--no-auto-maintenance', '--', ws.remote, `refs/heads/${ws.branch}`], { repo, remote: true, timeoutMs: NETWORK_TIMEOUT_MS })
  } catch (err) {
    // An empty remote has no branch yet: the first push creates it.
    if (err instanceof GitError && /couldn't find remote ref/i.test(err.stderr)) return local
    throw new PatchFailure('failed', 'REMOTE_UNAVAILABLE', `could not fetch ${ws.branch} from the remote`, { detail: String(err) })
  }
  const remote = (await git(['rev-parse', '--verify', 'FETCH_HEAD^{commit}'], { repo })).trim()
  if (local === remote) return local
  if (local === null || (await isAncestor(repo, local, remote))) {
    await git(['merge', '-q', '--ff-only', remote], { repo })
    return remote
  }
  const stranded = await strandedRunnerCommits(repo, remote, local, opts.patchId)
  if (stranded !== null) {
    for (const { commit } of stranded) {
      const tags = (await git(['tag', '--points-at', commit], { repo })).split('\n').filter(Boolean)
      for (const tag of tags) await git(['tag', '-d', tag], { repo })
    }
    // The caller found the tree clean, so the hard reset loses nothing but these commits.
    await git(['reset', '-q', '--hard', remote], { repo })
    opts.log?.warn({ dropped: stranded }, 'dropped runner commits that never reached the remote; their patches had already ended')
    return remote
  }
  if (await isAncestor(repo, remote, local)) {
    await pushToRemote(ws, repo, null)
    return local
  }
  throw new PatchFailure('failed', 'REMOTE_DIVERGED', `the workspace branch ${ws.branch} and the remote's have diverged; a person must reconcile them`)
}

/** Pushes the branch (and the tag) atomically. `rejected`: someone pushed first, so try the patch again. */
export async function pushToRemote(ws: WorkspaceConfig, repo: GitRepo, tag: string | null): Promise<'pushed' | 'rejected'> {
  if (ws.remote === undefined) return 'pushed'
  const refs = [`refs/heads/${ws.branch}:refs/heads/${ws.branch}`, ...(tag === null ? [] : [`refs/tags/${tag}:refs/tags/${tag}`])]
  try {
    await git(['push', '-q', '--atomic', '--', ws.remote, ...refs], { repo, remote: true, timeoutMs: NETWORK_TIMEOUT_MS })
    return 'pushed'
  } catch (err) {
    if (err instanceof GitError && /\[rejected\]|non-fast-forward|fetch first|stale info/i.test(err.stderr)) return 'rejected'
    throw new PatchFailure('failed', 'PUSH_FAILED', 'could not push the commit to the remote; the workspace was restored', { detail: String(err) })
  }
}
