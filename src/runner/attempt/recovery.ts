import { readFileSync, writeFileSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
import path from 'node:path'
import type { WorkspaceConfig } from '../../config.js'
import { killOrphanCheck, type CheckProcess } from '../checks/run-checks.js'
import { searchBranch, type PatchSearch } from '../workspace/patch-trailer.js'
import { gitMaybe, pathspecInput, type GitRepo } from '../workspace/git.js'
import { journalDir, readJournal, removeJournal, undoJournal } from './journal.js'
import type { RunnerLogger } from '../logger.js'
import { branchHead } from '../workspace/workspace.js'

const markerFile = (gitDir: string) => path.join(journalDir(gitDir), 'check.json')

/** Names the running check's process group, so a runner restarted after a crash can stop it. */
export function writeCheckMarker(gitDir: string, proc: CheckProcess): void {
  writeFileSync(markerFile(gitDir), JSON.stringify(proc), { mode: 0o600 })
}

export async function clearCheckMarker(gitDir: string): Promise<void> {
  await unlink(markerFile(gitDir)).catch(() => {})
}

function readCheckMarker(gitDir: string): CheckProcess | null {
  try {
    const value = JSON.parse(readFileSync(markerFile(gitDir), 'utf8')) as Partial<CheckProcess>
    if (typeof value.pid !== 'number') return null
    return { pid: value.pid, start: typeof value.start === 'string' ? value.start : null, ...(typeof value.cgroup === 'string' && { cgroup: value.cgroup }) }
  } catch {
    return null
  }
}

/**
 * Cleans up after a runner that died mid-patch in this workspace: stops the check it left
 * running, and undoes its half-applied write unless the commit had already landed (then the
 * tree already matches the branch and the re-claimed patch will find the commit by its trailer).
 * Resolves to the search it made for the interrupted patch's commit (null: nothing was
 * interrupted), which undoing never changes: the branch is left where it was.
 */
export async function recoverInterrupted(ws: WorkspaceConfig, repo: GitRepo, log: RunnerLogger): Promise<PatchSearch | null> {
  const { root, gitDir } = repo
  const marker = readCheckMarker(gitDir)
  if (marker) {
    if (killOrphanCheck(marker)) log.warn({ pid: marker.pid }, 'killed a check left running by an interrupted patch')
    await clearCheckMarker(gitDir)
  }
  const journal = readJournal(gitDir)
  if (journal === null) return null
  const search = await searchBranch(repo, ws.branch, journal.patch_id)
  if (search.commit === null) {
    const { restored, conflicts } = await undoJournal(root, journal)
    // A crash between `git add` and the commit leaves the patch staged: unstage what was put back.
    const paths = journal.entries.map((e) => e.path).filter((p) => !conflicts.includes(p))
    if (paths.length > 0) {
      const unborn = (await branchHead(repo, ws.branch)) === null
      const args = unborn
        ? ['--literal-pathspecs', 'rm', '-q', '--cached', '--ignore-unmatch', '--pathspec-from-file=-', '--pathspec-file-nul']
        : ['--literal-pathspecs', 'reset', '-q', '--pathspec-from-file=-', '--pathspec-file-nul']
      await gitMaybe(args, { repo, input: pathspecInput(paths) })
    }
    log.warn({ interrupted: journal.patch_id, runner: journal.runner_id, restored, conflicts }, 'undid the write of an interrupted patch')
  } else {
    log.info({ interrupted: journal.patch_id, commit: search.commit }, 'interrupted patch had committed; nothing to undo')
  }
  await removeJournal(gitDir)
  return search
}
