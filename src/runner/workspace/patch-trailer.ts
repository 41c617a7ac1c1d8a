import { git, gitMaybe, type GitRepo } from './git.js'

/** The trailer every runner commit ends with: `Patch-Id: <id>` names the patch it applied. */
export const TRAILER = 'Patch-Id'

/** git log's format for readPatchLog: each commit's id, then its trailers unfolded, one per \x01. */
const LOG_FORMAT = '--format=%H%x00%(trailers:only,unfold,separator=%x01)%x00'

export interface LoggedCommit {
  commit: string
  /** The patch the commit's last trailer names; '' when its last trailer is not a Patch-Id. */
  patch: string
}

/**
 * The commits of a `git log` in LOG_FORMAT, each with the patch it is a runner commit for. The
 * runner appends its trailer last, so only the final trailer counts: a commit that merely quotes
 * an id (a revert, a note, a cherry-pick) is not taken for that patch's own. git prints each
 * trailer as `key: value`, both trimmed, whatever spacing the message had.
 */
function readPatchLog(out: string): LoggedCommit[] {
  const fields = out.split('\0')
  const commits: LoggedCommit[] = []
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const last = fields[i + 1]!.split('\x01').map((t) => t.trim()).filter(Boolean).at(-1)
    const patch = last?.startsWith(`${TRAILER}: `) ? last.slice(TRAILER.length + 2).trim() : ''
    commits.push({ commit: fields[i]!.trim(), patch })
  }
  return commits
}

/** What one search of a branch for a patch's commit found. */
export interface PatchSearch {
  patchId: string
  /** The runner's commit for the patch, or null. */
  commit: string | null
  /** False when git could not read the branch (it does not exist yet): nothing was searched. */
  searched: boolean
}

/** Looks for the commit on `branch` the runner made for patch `id`. */
export async function searchBranch(repo: GitRepo, branch: string, id: string): Promise<PatchSearch> {
  const out = await gitMaybe(['log', LOG_FORMAT, '--fixed-strings', `--grep=${TRAILER}: ${id}`, `refs/heads/${branch}`, '--'], { repo })
  if (out === null) return { patchId: id, commit: null, searched: false }
  return { patchId: id, commit: readPatchLog(out).find((c) => c.patch === id)?.commit ?? null, searched: true }
}

/** Every commit in `range` (`a..b`), newest first, with the patch each is a runner commit for. */
export async function patchLog(repo: GitRepo, range: string): Promise<LoggedCommit[]> {
  return readPatchLog(await git(['log', LOG_FORMAT, range, '--'], { repo }))
}
