import { randomBytes } from 'node:crypto'
import type { CheckResult, PatchRecord, PatchResult } from '../../schemas/record.js'
import { faultPoint } from '../../fault-point.js'
import { describeCheckEnd, runChecks, toCheckResult, type CheckProcess, type CheckRun } from '../checks/run-checks.js'
import { workspaceSandbox } from '../checks/sandbox/for-workspace.js'
import { LeaseLostError } from '../claim/lease.js'
import { PatchFailure } from '../failure.js'
import { planInWorker, planLimits, type FileChange } from '../operations/index.js'
import { pushToRemote, syncFromRemote } from '../workspace/remote.js'
import { inspectWorkspace, type LocatedWorkspace } from '../workspace/workspace.js'
import { commitChanges, commitMessage, createTag, deleteTag, tagName, tagProblem, tagTarget, undoCommit } from './commit.js'
import { FailureWithChecks, PushRejected, Unverified, type ExecuteContext, type PhaseTimer } from './context.js'
import { buildJournal, removeJournal, writeJournal } from './journal.js'
import { clearCheckMarker, writeCheckMarker } from './recovery.js'
import { captureChanges, restoreSnapshot, writeChanges, type Snapshot } from './tree-writer.js'

// The steps of one attempt at a patch, in the order execute.ts runs them. Each returns what the
// next needs; a step that cannot go on throws a PatchFailure (or a control error of context.ts).

/** The workspace's branch head before and after the sync with the remote: the patch builds on `head`. */
export interface ReadyTree {
  inspected: string | null
  head: string | null
}

/**
 * The dirty check, the branch check (a clean tree is switched to the branch) and the sync with
 * the remote, from one `git status` on. `unsearched`: a runner on another host that lost its
 * lease may have pushed the patch, so until the remote's branch has been searched, a workspace
 * that cannot be used puts the patch back rather than failing or rejecting it.
 */
export async function readyTree(ctx: ExecuteContext, at: LocatedWorkspace): Promise<ReadyTree> {
  const { record } = ctx.claimed
  const unsearched = at.ws.remote !== undefined && record.events.some((e) => e.reason === 'lease_expired')
  const { block, head: inspected } = await inspectWorkspace(at.ws, at.repo, { switchBranch: true })
  ctx.onBlocked?.(record.target, block)
  if (block !== null) {
    if (unsearched) throw new Unverified(block.message)
    throw new PatchFailure('rejected', block.code, block.message, {
      ...(block.paths[0] !== undefined && { path: block.paths[0] }),
      ...(block.paths.length > 0 && { detail: block.paths.join('\n') }),
    })
  }
  // Syncing with the remote may move the branch: the patch builds on the head it leaves.
  const head = await syncFromRemote(at.ws, at.repo, { local: inspected, patchId: record.id, log: ctx.log }).catch((err: unknown) => {
    throw unsearched && err instanceof PatchFailure ? new Unverified(err.message) : err
  })
  return { inspected, head }
}

/** What the patch will do: every file change, planned in memory, and the tag to create (null: none). */
export interface Plan {
  changes: FileChange[]
  tag: string | null
}

/** Refusals that need no planning: the patch names what the workspace does not allow. */
async function refuseUpFront({ ws, repo }: LocatedWorkspace, record: PatchRecord): Promise<string | null> {
  for (const [i, name] of record.patch.checks.entries()) {
    if (!Object.hasOwn(ws.checks, name)) {
      throw new PatchFailure('rejected', 'CHECK_NOT_ALLOWED', `workspace "${record.target}" allows no check named "${name}"`, { detail: `checks[${i}]` })
    }
  }
  // git refuses a NUL in a message; found now, the patch is refused before anything is written.
  if (commitMessage(record).includes('\0')) throw new PatchFailure('rejected', 'INVALID_COMMIT_MESSAGE', 'the commit message contains a NUL byte')
  const tag = tagName(ws, record.patch.commit.tag)
  if (tag === null) return null
  const problem = await tagProblem(ws, repo, tag)
  if (problem !== null) throw new PatchFailure('rejected', 'INVALID_TAG', `invalid tag ${JSON.stringify(tag)}: ${problem}`)
  if ((await tagTarget(repo, tag)) !== null) throw new PatchFailure('rejected', 'TAG_EXISTS', `tag ${tag} already exists`)
  return tag
}

/** Plans the patch off the event loop that serves HTTP, under its time, memory and size limits. */
export async function planPatch(ctx: ExecuteContext, at: LocatedWorkspace, timer: PhaseTimer): Promise<Plan> {
  const { record } = ctx.claimed
  const tag = await refuseUpFront(at, record)
  const changes = await timer.time('plan', () => planInWorker(at.repo.root, record.patch.operations, planLimits(ctx.config, at.ws)))
  return { changes, tag }
}

/** What a written patch leaves to land or roll back. */
export interface Written {
  plan: Plan
  /** The branch head the patch builds on (null: unborn). */
  head: string | null
  /** Every byte the write replaced, to restore. */
  snapshot: Snapshot
}

/** Journals what the patch replaces (durably, so a crash can be undone), then writes it. */
export async function writePatch(ctx: ExecuteContext, at: LocatedWorkspace, plan: Plan, head: string | null, timer: PhaseTimer): Promise<Written> {
  const { root, gitDir } = at.repo
  const tempTag = randomBytes(6).toString('hex')
  const snapshot = await timer.time('write', async () => {
    const captured = await captureChanges(root, plan.changes)
    await writeJournal(gitDir, await buildJournal(root, { patchId: ctx.claimed.record.id, runnerId: ctx.runnerId, head, tempTag }, captured))
    try {
      return await writeChanges(root, captured, tempTag)
    } catch (err) {
      // writeChanges restored what it had written before rethrowing.
      await removeJournal(gitDir)
      throw err
    }
  })
  return { plan, head, snapshot }
}

/** What the attempt has done past the write, which a roll back undoes and the record reports. */
export interface Progress {
  checks: CheckResult[]
  committing: boolean
  tagged: boolean
}

const TAIL_IN_ERROR = 4096

function checkFailure(run: CheckRun): PatchFailure {
  return new PatchFailure('failed', run.timed_out ? 'CHECK_TIMEOUT' : 'CHECK_FAILED', `check "${run.name}" ${describeCheckEnd(run)}`, {
    detail: run.output_tail.slice(-TAIL_IN_ERROR),
  })
}

/** Runs the patch's checks in the written tree; `stop` is why the attempt cannot go on (null: all passed). */
export async function checkPatch(ctx: ExecuteContext, at: LocatedWorkspace, timer: PhaseTimer): Promise<{ checks: CheckResult[]; stop: Error | null }> {
  const { gitDir } = at.repo
  const onSpawn = (proc: CheckProcess) => {
    writeCheckMarker(gitDir, proc)
    faultPoint('check-running')
  }
  const sandbox = workspaceSandbox(ctx.config, at.ws, gitDir)
  const outcome = await timer.time('checks', () => runChecks(at.ws, ctx.claimed.record.patch.checks, { signal: ctx.lease.signal, onSpawn, sandbox }).finally(() => clearCheckMarker(gitDir)))
  const checks = outcome.results.map(toCheckResult)
  if (outcome.aborted) return { checks, stop: new LeaseLostError('lease lost while a check was running') }
  return { checks, stop: outcome.failed ? checkFailure(outcome.failed) : null }
}

/** Commits, tags and pushes the written patch, then drops its journal: the patch has landed. */
export async function landPatch(ctx: ExecuteContext, at: LocatedWorkspace, plan: Plan, progress: Progress, timer: PhaseTimer): Promise<PatchResult> {
  const { ws, repo } = at
  const { record } = ctx.claimed
  progress.committing = true
  const { commit, files } = await timer.time('commit', async () => {
    const landed = await commitChanges(ws, repo, plan.changes.map((c) => c.path), commitMessage(record), record.id)
    faultPoint('committed')
    if (plan.tag !== null) {
      await createTag(ws, repo, plan.tag, landed.commit, record.id)
      progress.tagged = true
    }
    if ((await pushToRemote(ws, repo, plan.tag)) === 'rejected') throw new PushRejected('the remote moved on while the patch was being applied')
    return landed
  })
  await removeJournal(repo.gitDir)
  return { commit, tag: plan.tag, files, checks: progress.checks, durations_ms: timer.durations }
}

/**
 * Puts the tree, the index and the branch back as they were before the write. When that fails the
 * journal stays, the workspace is reported blocked, and the patch fails RESTORE_FAILED: the next
 * patch in this workspace retries the undo (recoverInterrupted) before anything else.
 */
export async function rollBack(ctx: ExecuteContext, at: LocatedWorkspace, written: Written, progress: Progress): Promise<void> {
  const { ws, repo } = at
  try {
    if (progress.tagged && written.plan.tag !== null) await deleteTag(repo, written.plan.tag)
    if (progress.committing) await undoCommit(ws, repo, written.head)
    await restoreSnapshot(written.snapshot)
    await removeJournal(repo.gitDir)
  } catch (restoreErr) {
    ctx.log.error({ err: restoreErr }, 'could not restore the workspace; it stays blocked until the journal is undone')
    ctx.onBlocked?.(ctx.claimed.record.target, { code: 'RESTORE_FAILED', message: 'the runner could not restore the workspace after a failed patch', paths: [] })
    throw new FailureWithChecks(new PatchFailure('failed', 'RESTORE_FAILED', 'the workspace could not be restored after the patch failed', { detail: String(restoreErr) }), progress.checks)
  }
}

/** What a rolled-back attempt ends with: its own failure, COMMIT_FAILED for an error past the checks, or the control error as it was. */
export function afterRollBack(err: unknown, progress: Progress): unknown {
  if (err instanceof PatchFailure) return new FailureWithChecks(err, progress.checks)
  if (progress.committing && !(err instanceof LeaseLostError) && !(err instanceof PushRejected)) {
    return new FailureWithChecks(new PatchFailure('failed', 'COMMIT_FAILED', 'the commit or tag could not be created; the tree was restored', { detail: String(err) }), progress.checks)
  }
  return err
}
