import { readFileSync, writeFileSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
import path from 'node:path'
import type { WorkspaceConfig } from '../config.js'
import { killOrphanCheck, type CheckProcess } from './checks.js'
import { findCommitByPatchId } from './commit.js'
import { gitMaybe, pathspecInput } from './git.js'
import { journalDir, readJournal, removeJournal, undoJournal } from './journal.js'
import type { RunnerLogger } from './logger.js'
import { branchHead } from './workspace.js'

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
    return typeof value.pid === 'number' ? { pid: value.pid, start: typeof value.start === 'string' ? value.start : null } : null
  } catch {
    return null
  }
}

/**
 * Cleans up after a runner that died mid-patch in this workspace: stops the check it left
 * running, and undoes its half-applied write unless the commit had already landed (then the
 * tree already matches the branch and the re-claimed patch will find the commit by its trailer).
 */
export async function recoverInterrupted(ws: WorkspaceConfig, root: string, gitDir: string, log: RunnerLogger): Promise<void> {
  const marker = readCheckMarker(gitDir)
  if (marker) {
    if (killOrphanCheck(marker)) log.warn({ pid: marker.pid }, 'killed a check left running by an interrupted patch')
    await clearCheckMarker(gitDir)
  }
  const journal = readJournal(gitDir)
  if (journal === null) return
  const landed = await findCommitByPatchId(root, ws.branch, journal.patch_id)
  if (landed === null) {
    const { restored, conflicts } = await undoJournal(root, journal)
    // A crash between `git add` and the commit leaves the patch staged: unstage what was put back.
    const paths = journal.entries.map((e) => e.path).filter((p) => !conflicts.includes(p))
    if (paths.length > 0) {
      const unborn = (await branchHead(root, ws.branch)) === null
      const args = unborn
        ? ['--literal-pathspecs', 'rm', '-q', '--cached', '--ignore-unmatch', '--pathspec-from-file=-', '--pathspec-file-nul']
        : ['--literal-pathspecs', 'reset', '-q', '--pathspec-from-file=-', '--pathspec-file-nul']
      await gitMaybe(args, { cwd: root, input: pathspecInput(paths) })
    }
    log.warn({ interrupted: journal.patch_id, runner: journal.runner_id, restored, conflicts }, 'undid the write of an interrupted patch')
  } else {
    log.info({ interrupted: journal.patch_id, commit: landed }, 'interrupted patch had committed; nothing to undo')
  }
  await removeJournal(gitDir)
}
