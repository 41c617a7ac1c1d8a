import { verifyOnly, type ClaimedPatch, type Store } from '../../store/port.js'
import { faultPoint } from '../../fault-point.js'
import { LeaseLostError } from '../claim/lease.js'
import { PatchFailure } from '../failure.js'
import { RejectError } from '../operations/index.js'
import { withWorkspaceLock, WorkspaceBusyError } from '../workspace/lock.js'
import { located, locateWorkspace, type LocatedWorkspace } from '../workspace/workspace.js'
import { FailureWithChecks, nothingLanded, PhaseTimer, PushRejected, Unverified, type ExecuteContext, type Outcome } from './context.js'
import { completeLanded, LandedSearch, notLanded, verifyLanded } from './landed.js'
import { recoverInterrupted } from './recovery.js'
import { afterRollBack, checkPatch, landPatch, planPatch, readyTree, rollBack, writePatch, type Progress, type Written } from './steps.js'

/** The claimed patch's workspace, found on disk (created or cloned when missing). */
async function locate(ctx: ExecuteContext, timer: PhaseTimer): Promise<LocatedWorkspace> {
  const { record } = ctx.claimed
  const ws = ctx.config.workspaces[record.target]
  if (!ws) throw new PatchFailure('rejected', 'UNKNOWN_TARGET', `no workspace named "${record.target}"`)
  // The branch is checked (and switched to when the tree is clean) under the lock, in readyTree.
  return located(ws, await timer.time('prepare', () => locateWorkspace(ws, { dataDir: ctx.config.dataDir })))
}

/**
 * One attempt, under the workspace lock: recover, verify, ready the tree, plan, write, then check
 * and land (or roll back). recoverInterrupted runs here for every patch as well as once at start
 * (Runner.prepareWorkspaces): a journal can appear after start, left by a failed restore in this
 * process, by another process sharing the workspace that died holding it, or in a workspace that
 * could not be prepared at start. With no journal it costs two file reads.
 */
async function applyLocked(ctx: ExecuteContext, at: LocatedWorkspace, timer: PhaseTimer): Promise<Outcome> {
  const { record } = ctx.claimed
  ctx.lease.check()
  const search = new LandedSearch(at, record.id, await recoverInterrupted(at.ws, at.repo, ctx.log))
  if (verifyOnly(record)) return verifyLanded(ctx, at, search, timer)

  // Before the dirty check: a patch that already landed is applied whatever the tree holds now.
  // Only an earlier attempt can have landed it, so a first attempt skips searching the history.
  const earlier = record.attempts > 1 ? await search.find() : null
  if (earlier !== null) return completeLanded(at, record, earlier, ctx.log)
  const { inspected, head } = await readyTree(ctx, at)
  if (at.ws.remote !== undefined && record.attempts > 1) {
    // A runner on another host may have pushed it before losing its lease; the sync may have brought it.
    const pushed = await search.findAfterSync(inspected, head)
    if (pushed !== null) return completeLanded(at, record, pushed, ctx.log)
  }

  const plan = await planPatch(ctx, at, timer)
  ctx.lease.check()
  const written = await writePatch(ctx, at, plan, head, timer)
  return checkAndLand(ctx, at, written, timer)
}

/** Checks and lands the written patch; on any failure rolls it back and says why. */
async function checkAndLand(ctx: ExecuteContext, at: LocatedWorkspace, written: Written, timer: PhaseTimer): Promise<Outcome> {
  const progress: Progress = { checks: [], committing: false, tagged: false }
  try {
    const { checks, stop } = await checkPatch(ctx, at, timer)
    progress.checks = checks
    if (stop !== null) throw stop
    ctx.lease.check()
    return { status: 'applied', recovered: false, result: await landPatch(ctx, at, written.plan, progress, timer) }
  } catch (err) {
    await rollBack(ctx, at, written, progress)
    throw afterRollBack(err, progress)
  }
}

/**
 * A lost push race (the tree is already restored) sends the patch back to the head of its lane,
 * to be applied again on the new head; after maxAttempts lost races it fails instead, so a
 * remote that keeps moving cannot hold its lane forever.
 */
function afterLostRace(ctx: ExecuteContext, detail: string, timer: PhaseTimer): Outcome {
  const { record } = ctx.claimed
  const lost = record.events.filter((e) => e.reason === 'push_rejected').length + 1
  if (lost < ctx.config.runner.maxAttempts) return { status: 'release', reason: 'push_rejected', detail }
  const failure = new PatchFailure('failed', 'PUSH_REJECTED', `the remote branch moved before each of ${lost} pushes; the patch was not applied`, { detail })
  return { status: 'failed', error: failure.toPatchError(), result: nothingLanded(timer) }
}

/** The outcome an attempt that threw ends with. */
function outcomeOfError(ctx: ExecuteContext, err: unknown, timer: PhaseTimer): Outcome {
  const { record } = ctx.claimed
  if (err instanceof WorkspaceBusyError) return { status: 'release', reason: 'workspace_busy', detail: err.message }
  if (err instanceof Unverified) return { status: 'release', reason: 'unverified', detail: err.message }
  if (err instanceof PushRejected) {
    // Verifying, the only push is of an earlier attempt's commit; rejected, that commit was dropped.
    if (verifyOnly(record)) return notLanded(record, ctx.config.runner.maxAttempts, 'its commit never reached the remote, which moved on', timer)
    return afterLostRace(ctx, err.message, timer)
  }
  if (err instanceof LeaseLostError) return { status: 'abandoned', reason: err.message }
  const failure = err instanceof PatchFailure ? err : err instanceof RejectError ? new PatchFailure('rejected', err.code, err.message, err.toPatchError()) : null
  if (failure === null) {
    ctx.log.error({ err }, 'runner error while applying a patch')
    const error = new PatchFailure('failed', 'RUNNER_ERROR', 'the runner failed while applying the patch; the tree was restored', { detail: String(err) })
    return { status: 'failed', error: error.toPatchError(), result: nothingLanded(timer) }
  }
  if (failure.code === 'WORKSPACE_UNAVAILABLE') ctx.onBlocked?.(record.target, { code: 'WORKSPACE_UNAVAILABLE', message: failure.message, paths: [] })
  const checks = err instanceof FailureWithChecks ? err.checks : []
  return { status: failure.status, error: failure.toPatchError(), result: failure.status === 'failed' ? nothingLanded(timer, checks) : null }
}

/** Works out what happens to one claimed patch. Never leaves a half-applied tree behind. */
export async function runPatch(ctx: ExecuteContext): Promise<Outcome> {
  const timer = new PhaseTimer()
  try {
    const at = await locate(ctx, timer)
    const outcome = await withWorkspaceLock(at.repo.gitDir, { runnerId: ctx.runnerId, isGone: ctx.isGone }, () => applyLocked(ctx, at, timer))
    if (outcome.status === 'applied') ctx.onBlocked?.(ctx.claimed.record.target, null)
    return outcome
  } catch (err) {
    return outcomeOfError(ctx, err, timer)
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
