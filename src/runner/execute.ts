import { randomBytes } from 'node:crypto'
import type { Config, WorkspaceConfig } from '../config.js'
import type { CheckResult, PatchError, PatchRecord, PatchResult } from '../schemas/record.js'
import { VERIFY_ONLY_REASON, verifyOnly, type ClaimedPatch, type Store } from '../store/port.js'
import { runChecks, toCheckResult, type CheckProcess } from './checks.js'
import { commitChanges, commitMessage, createTag, deleteTag, fileStats, findCommitByPatchId, tagName, tagProblem, tagTarget, undoCommit } from './commit.js'
import { faultPoint } from '../fault-point.js'
import { PatchFailure } from './failure.js'
import { git } from './git.js'
import { buildJournal, removeJournal, writeJournal } from './journal.js'
import { LeaseLostError, type LeaseKeeper } from './lease.js'
import type { RunnerLogger } from './logger.js'
import { planOperations, RejectError } from './operations/index.js'
import { clearCheckMarker, recoverInterrupted, writeCheckMarker } from './recovery.js'
import { pushToRemote, syncFromRemote } from './remote.js'
import { captureChanges, restoreSnapshot, writeChanges } from './tree-writer.js'
import { withWorkspaceLock, WorkspaceBusyError, type LockOptions } from './workspace-lock.js'
import { branchHead, inspectWorkspace, locateWorkspace, workspaceBlock, type WorkspaceBlock } from './workspace.js'

export interface ExecuteContext {
  store: Store
  config: Config
  runnerId: string
  claimed: ClaimedPatch
  lease: Pick<LeaseKeeper, 'signal' | 'check'> & Partial<Pick<LeaseKeeper, 'settle'>>
  log: RunnerLogger
  /** Told whether the target's workspace is blocked (null: usable again), for the runner heartbeat. */
  onBlocked?: (target: string, block: WorkspaceBlock | null) => void
  isGone?: LockOptions['isGone']
}

export type Outcome =
  | { status: 'applied'; result: PatchResult; recovered: boolean }
  | { status: 'failed' | 'rejected'; error: PatchError; result: PatchResult | null }
  /** The lease was lost: the tree is restored and nothing may be recorded. */
  | { status: 'abandoned'; reason: string }
  /**
   * Try again later: another runner holds the workspace, lost a push race, or (`unverified`) the
   * remote's branch could not be searched for the commit of an attempt that lost its lease.
   * Back to the head of its lane.
   */
  | { status: 'release'; reason: 'workspace_busy' | 'push_rejected' | 'unverified'; detail: string }

class PushRejected extends Error {
  override readonly name = 'PushRejected'
}

class PhaseTimer {
  readonly durations: Record<string, number> = {}
  async time<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now()
    try {
      return await fn()
    } finally {
      this.durations[phase] = Math.round((this.durations[phase] ?? 0) + performance.now() - start)
    }
  }
}

/** A failure that also carries what ran before it (check results), for the record. */
class FailureWithChecks extends PatchFailure {
  constructor(
    failure: PatchFailure,
    readonly checks: CheckResult[],
  ) {
    super(failure.status, failure.code, failure.message, failure.info)
  }
}

const TAIL_IN_ERROR = 4096

function checkFailure(run: CheckResult): PatchFailure {
  const how = run.timed_out
    ? `timed out after ${run.duration_ms} ms`
    : run.exit_code === null
      ? run.signal
        ? `was killed by ${run.signal}`
        : 'could not start'
      : `exited with code ${run.exit_code}`
  return new PatchFailure('failed', run.timed_out ? 'CHECK_TIMEOUT' : 'CHECK_FAILED', `check "${run.name}" ${how}`, {
    detail: run.output_tail.slice(-TAIL_IN_ERROR),
  })
}

/** Refusals that need no planning: the patch names what the workspace does not allow. */
async function refuseUpFront(ws: WorkspaceConfig, root: string, record: PatchRecord): Promise<string | null> {
  for (const [i, name] of record.patch.checks.entries()) {
    if (!Object.hasOwn(ws.checks, name)) {
      throw new PatchFailure('rejected', 'CHECK_NOT_ALLOWED', `workspace "${record.target}" allows no check named "${name}"`, { detail: `checks[${i}]` })
    }
  }
  // git refuses a NUL in a message; found now, the patch is refused before anything is written.
  if (commitMessage(record).includes('\0')) throw new PatchFailure('rejected', 'INVALID_COMMIT_MESSAGE', 'the commit message contains a NUL byte')
  const tag = tagName(ws, record.patch.commit.tag)
  if (tag === null) return null
  const problem = await tagProblem(root, tag)
  if (problem !== null) throw new PatchFailure('rejected', 'INVALID_TAG', `invalid tag ${JSON.stringify(tag)}: ${problem}`)
  if ((await tagTarget(root, tag)) !== null) throw new PatchFailure('rejected', 'TAG_EXISTS', `tag ${tag} already exists`)
  return tag
}

/** The patch was committed by an earlier attempt (the runner died before recording it). */
async function completeLanded(ws: WorkspaceConfig, root: string, record: PatchRecord, commit: string, log: RunnerLogger): Promise<Outcome> {
  let tag = tagName(ws, record.patch.commit.tag)
  if (tag !== null) {
    const target = await tagTarget(root, tag)
    if (target === null && (await tagProblem(root, tag)) === null) {
      await createTag(ws, tag, commit, record.id)
    } else if (target !== commit) {
      log.warn({ tag, target, commit }, 'the patch tag is invalid or names another commit; leaving it')
      tag = null
    }
  }
  if (ws.remote !== undefined && (await pushToRemote(ws, root, tag)) === 'rejected') {
    // Committed but never pushed, and the remote moved on: drop the local commit (only from a
    // clean tree, where that loses nothing) and apply the patch again on top of the remote.
    if ((await branchHead(root, ws.branch)) !== commit || (await workspaceBlock(ws)) !== null) {
      throw new PatchFailure('failed', 'REMOTE_DIVERGED', `commit ${commit} for this patch could not be pushed and the workspace cannot be reset safely`)
    }
    if (tag !== null) await deleteTag(ws, tag)
    await git(['reset', '-q', '--hard', `${commit}~1`], { cwd: root })
    throw new PushRejected('the remote moved on before an earlier attempt pushed its commit')
  }
  log.info({ commit }, 'patch already committed by an earlier attempt; recording it once')
  return { status: 'applied', recovered: true, result: { commit, tag, files: await fileStats(root, commit), checks: [], durations_ms: {} } }
}

/** The patch may have landed on the remote, which cannot be searched now (out of reach, or the tree is not clean to sync). */
class Unverified extends Error {
  override readonly name = 'Unverified'
}

/**
 * The store gave the patch up after its last attempt lost its lease (verifyOnly): the runner may
 * have died between its commit and recording it, so the branch, not the store, says how it
 * ended. Never applies the patch: applied with the commit an earlier attempt landed, otherwise
 * failed LEASE_LOST. recoverInterrupted has already undone a journaled write that never committed.
 */
async function verifyLanded(ctx: ExecuteContext, ws: WorkspaceConfig, root: string, gitDir: string, timer: PhaseTimer): Promise<Outcome> {
  const { record } = ctx.claimed
  let landed = await findCommitByPatchId(root, ws.branch, record.id)
  if (landed === null && ws.remote !== undefined) {
    // A runner on another host may have pushed it: catch up with the remote (from a clean tree) and look again.
    const { block, head } = await inspectWorkspace(ws, gitDir, { switchBranch: true })
    ctx.onBlocked?.(record.target, block)
    if (block !== null) throw new Unverified(block.message)
    try {
      await syncFromRemote(ws, root, { local: head, patchId: record.id, log: ctx.log })
    } catch (err) {
      if (err instanceof PatchFailure) throw new Unverified(err.message)
      throw err
    }
    landed = await findCommitByPatchId(root, ws.branch, record.id)
  }
  if (landed !== null) return completeLanded(ws, root, record, landed, ctx.log)
  return notLanded(record, ctx.config.runner.maxAttempts, `no commit for the patch is on ${ws.branch}`, timer)
}

/** The verified end of a patch given up after its last lost lease, when nothing of it landed. */
function notLanded(record: PatchRecord, maxAttempts: number, why: string, timer: PhaseTimer): Outcome {
  const runner = record.events.findLast((e) => e.reason === VERIFY_ONLY_REASON)?.detail ?? 'unknown'
  const failure = new PatchFailure('failed', 'LEASE_LOST', `lease lost on the last of ${maxAttempts} attempts (last runner ${runner}); ${why}, and it was not applied again`)
  return { status: 'failed', error: failure.toPatchError(), result: { commit: null, tag: null, files: [], checks: [], durations_ms: timer.durations } }
}

async function applyLocked(ctx: ExecuteContext, ws: WorkspaceConfig, root: string, gitDir: string, timer: PhaseTimer): Promise<Outcome> {
  const { record } = ctx.claimed
  const { lease, log } = ctx
  lease.check()
  await recoverInterrupted(ws, root, gitDir, log)
  if (verifyOnly(record)) return verifyLanded(ctx, ws, root, gitDir, timer)

  // Before the dirty check: a patch that already landed is applied whatever the tree holds now.
  // Only an earlier attempt can have landed it, so a first attempt skips searching the history.
  let landed = record.attempts > 1 ? await findCommitByPatchId(root, ws.branch, record.id) : null
  if (landed !== null) return completeLanded(ws, root, record, landed, log)

  // A runner on another host that lost its lease may have pushed the patch: until the remote's
  // branch has been searched, the patch is put back rather than recorded failed or rejected.
  const unsearched = ws.remote !== undefined && record.events.some((e) => e.reason === 'lease_expired')

  // One `git status` answers the dirty check, the branch check and the head to build on.
  const { block, head: inspected } = await inspectWorkspace(ws, gitDir, { switchBranch: true })
  ctx.onBlocked?.(record.target, block)
  if (block !== null) {
    if (unsearched) throw new Unverified(block.message)
    throw new PatchFailure('rejected', block.code, block.message, {
      ...(block.paths[0] !== undefined && { path: block.paths[0] }),
      ...(block.paths.length > 0 && { detail: block.paths.join('\n') }),
    })
  }
  // Syncing with the remote may move the branch: the patch builds on the head it leaves.
  const head = await syncFromRemote(ws, root, { local: inspected, patchId: record.id, log }).catch((err: unknown) => {
    throw unsearched && err instanceof PatchFailure ? new Unverified(err.message) : err
  })
  if (ws.remote !== undefined && record.attempts > 1) {
    // A runner on another host may have landed it before losing its lease; only an earlier attempt can have.
    landed = await findCommitByPatchId(root, ws.branch, record.id)
    if (landed !== null) return completeLanded(ws, root, record, landed, log)
  }
  const tag = await refuseUpFront(ws, root, record)

  const changes = await timer.time('plan', () => planOperations(root, record.patch.operations))
  lease.check()

  const tempTag = randomBytes(6).toString('hex')
  const snapshot = await timer.time('write', async () => {
    const captured = await captureChanges(root, changes)
    await writeJournal(gitDir, await buildJournal(root, { patchId: record.id, runnerId: ctx.runnerId, head, tempTag }, captured))
    try {
      return await writeChanges(root, captured, tempTag)
    } catch (err) {
      // writeChanges restored what it had written before rethrowing.
      await removeJournal(gitDir)
      throw err
    }
  })

  let checks: CheckResult[] = []
  let committing = false
  let tagged = false
  try {
    const onSpawn = (proc: CheckProcess) => {
      writeCheckMarker(gitDir, proc)
      faultPoint('check-running')
    }
    const outcome = await timer.time('checks', () => runChecks(ws, record.patch.checks, { signal: lease.signal, onSpawn }).finally(() => clearCheckMarker(gitDir)))
    checks = outcome.results.map(toCheckResult)
    if (outcome.aborted) throw new LeaseLostError('lease lost while a check was running')
    if (outcome.failed) throw checkFailure(outcome.failed)
    lease.check()

    committing = true
    const { commit, files } = await timer.time('commit', async () => {
      const landed = await commitChanges(ws, changes.map((c) => c.path), commitMessage(record), record.id)
      const sha = landed.commit
      faultPoint('committed')
      if (tag !== null) {
        await createTag(ws, tag, sha, record.id)
        tagged = true
      }
      if ((await pushToRemote(ws, root, tag)) === 'rejected') throw new PushRejected('the remote moved on while the patch was being applied')
      return landed
    })
    await removeJournal(gitDir)
    return { status: 'applied', recovered: false, result: { commit, tag, files, checks, durations_ms: timer.durations } }
  } catch (err) {
    try {
      if (tagged && tag !== null) await deleteTag(ws, tag)
      if (committing) await undoCommit(ws, head)
      await restoreSnapshot(snapshot)
      await removeJournal(gitDir)
    } catch (restoreErr) {
      // The journal stays: the next patch in this workspace retries the undo before anything else.
      log.error({ err: restoreErr }, 'could not restore the workspace; it stays blocked until the journal is undone')
      ctx.onBlocked?.(record.target, { code: 'RESTORE_FAILED', message: 'the runner could not restore the workspace after a failed patch', paths: [] })
      throw new FailureWithChecks(new PatchFailure('failed', 'RESTORE_FAILED', 'the workspace could not be restored after the patch failed', { detail: String(restoreErr) }), checks)
    }
    if (err instanceof PatchFailure) throw new FailureWithChecks(err, checks)
    if (committing && !(err instanceof LeaseLostError) && !(err instanceof PushRejected)) {
      throw new FailureWithChecks(new PatchFailure('failed', 'COMMIT_FAILED', 'the commit or tag could not be created; the tree was restored', { detail: String(err) }), checks)
    }
    throw err
  }
}

/**
 * A lost push race (the tree is already restored) sends the patch back to the head of its lane,
 * to be applied again on the new head; after maxAttempts lost races it fails instead, so a
 * remote that keeps moving cannot hold its lane forever.
 */
function afterLostRace(record: PatchRecord, maxAttempts: number, detail: string, timer: PhaseTimer): Outcome {
  const lost = record.events.filter((e) => e.reason === 'push_rejected').length + 1
  if (lost < maxAttempts) return { status: 'release', reason: 'push_rejected', detail }
  const failure = new PatchFailure('failed', 'PUSH_REJECTED', `the remote branch moved before each of ${lost} pushes; the patch was not applied`, { detail })
  return { status: 'failed', error: failure.toPatchError(), result: { commit: null, tag: null, files: [], checks: [], durations_ms: timer.durations } }
}

/** Works out what happens to one claimed patch. Never leaves a half-applied tree behind. */
export async function runPatch(ctx: ExecuteContext): Promise<Outcome> {
  const { record } = ctx.claimed
  const timer = new PhaseTimer()
  const ws = ctx.config.workspaces[record.target]
  try {
    if (!ws) throw new PatchFailure('rejected', 'UNKNOWN_TARGET', `no workspace named "${record.target}"`)
    // The branch is checked (and switched to when the tree is clean) under the lock, in applyLocked.
    const { root, gitDir } = await timer.time('prepare', () => locateWorkspace(ws, { dataDir: ctx.config.dataDir }))
    const outcome = await withWorkspaceLock(gitDir, { runnerId: ctx.runnerId, isGone: ctx.isGone }, () => applyLocked(ctx, { ...ws, path: root }, root, gitDir, timer))
    if (outcome.status === 'applied') ctx.onBlocked?.(record.target, null)
    return outcome
  } catch (err) {
    if (err instanceof WorkspaceBusyError) return { status: 'release', reason: 'workspace_busy', detail: err.message }
    if (err instanceof Unverified) return { status: 'release', reason: 'unverified', detail: err.message }
    if (err instanceof PushRejected) {
      // Verifying, the only push is of an earlier attempt's commit; rejected, that commit was dropped.
      if (verifyOnly(record)) return notLanded(record, ctx.config.runner.maxAttempts, 'its commit never reached the remote, which moved on', timer)
      return afterLostRace(record, ctx.config.runner.maxAttempts, err.message, timer)
    }
    if (err instanceof LeaseLostError) return { status: 'abandoned', reason: err.message }
    const failure =
      err instanceof PatchFailure
        ? err
        : err instanceof RejectError
          ? new PatchFailure('rejected', err.code, err.message, err.toPatchError())
          : null
    if (failure === null) {
      ctx.log.error({ err }, 'runner error while applying a patch')
      const error: PatchError = { code: 'RUNNER_ERROR', message: 'the runner failed while applying the patch; the tree was restored', detail: String(err) }
      return { status: 'failed', error, result: { commit: null, tag: null, files: [], checks: [], durations_ms: timer.durations } }
    }
    if (failure.code === 'WORKSPACE_UNAVAILABLE') ctx.onBlocked?.(record.target, { code: 'WORKSPACE_UNAVAILABLE', message: failure.message, paths: [] })
    const checks = err instanceof FailureWithChecks ? err.checks : []
    const result = failure.status === 'failed' ? { commit: null, tag: null, files: [], checks, durations_ms: timer.durations } : null
    return { status: failure.status, error: failure.toPatchError(), result }
  }
}

/** Records an outcome under the claim's fencing token; false when the store refused it (stale lease). */
export async function recordOutcome(store: Store, claimed: ClaimedPatch, outcome: Outcome): Promise<boolean> {
  const { id } = claimed.record
  switch (outcome.status) {
    case 'applied':
      return store.complete(id, claimed.token, outcome.result)
    case 'failed':
    case 'rejected':
      return store.fail(id, claimed.token, outcome.status, outcome.error, outcome.result)
    case 'release':
      // Only a lost push race tried the patch; a held workspace or an unsearchable branch did not.
      return store.release(id, claimed.token, outcome.reason, outcome.detail, { attempted: outcome.reason === 'push_rejected' })
    case 'abandoned':
      return false
  }
}

/** Runs and records one claimed patch. */
export async function executePatch(ctx: ExecuteContext): Promise<Outcome> {
  const outcome = await runPatch(ctx)
  // Recording ends the lease: a heartbeat that then finds it gone is no news.
  ctx.lease.settle?.()
  faultPoint('recording')
  const recorded = await recordOutcome(ctx.store, ctx.claimed, outcome)
  faultPoint('recorded')
  const log = ctx.log
  if (outcome.status === 'abandoned') log.warn({ reason: outcome.reason }, 'patch abandoned after losing its lease; the tree was restored')
  else if (!recorded) log.warn({ status: outcome.status }, 'the store refused the outcome (stale lease); another attempt will settle the patch')
  else if (outcome.status === 'applied') log.info({ commit: outcome.result.commit, tag: outcome.result.tag, files: outcome.result.files.length }, 'patch applied')
  else if (outcome.status === 'release') log.info({ reason: outcome.reason, detail: outcome.detail }, 'patch put back at the head of its lane')
  else log.info({ status: outcome.status, code: outcome.error.code, message: outcome.error.message }, `patch ${outcome.status}`)
  return outcome
}
