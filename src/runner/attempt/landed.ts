import type { PatchRecord } from '../../schemas/record.js'
import { VERIFY_ONLY_REASON } from '../../store/port.js'
import { PatchFailure } from '../failure.js'
import type { RunnerLogger } from '../logger.js'
import { git } from '../workspace/git.js'
import { searchBranch, type PatchSearch } from '../workspace/patch-trailer.js'
import { pushToRemote, syncFromRemote } from '../workspace/remote.js'
import { branchHead, inspectWorkspace, workspaceBlock, type LocatedWorkspace } from '../workspace/workspace.js'
import { createTag, deleteTag, fileStats, tagName, tagProblem, tagTarget } from './commit.js'
import { nothingLanded, PushRejected, Unverified, type ExecuteContext, type Outcome, type PhaseTimer } from './context.js'

/**
 * Whether an earlier attempt landed the patch, searching the branch at most once per state of
 * it: recovery's search for the same patch is taken as it stands (undoing a write never moves
 * the branch), and a sync that left the head where it was is not followed by a second search.
 */
export class LandedSearch {
  #last: PatchSearch | null
  constructor(
    private readonly at: LocatedWorkspace,
    private readonly patchId: string,
    recovered: PatchSearch | null,
  ) {
    this.#last = recovered?.patchId === patchId ? recovered : null
  }

  /** The patch's commit on the branch, or null. */
  async find(): Promise<string | null> {
    this.#last ??= await searchBranch(this.at.repo, this.at.ws.branch, this.patchId)
    return this.#last.commit
  }

  /** The same, after a sync that took the branch from `before` to `after`: it may have brought the commit. */
  async findAfterSync(before: string | null, after: string | null): Promise<string | null> {
    if (this.#last?.searched === true && before === after) return this.#last.commit
    this.#last = null
    return this.find()
  }
}

/** The patch was committed by an earlier attempt (the runner died before recording it). */
export async function completeLanded(at: LocatedWorkspace, record: PatchRecord, commit: string, log: RunnerLogger): Promise<Outcome> {
  const { ws, repo } = at
  let tag = tagName(ws, record.patch.commit.tag)
  if (tag !== null) {
    const target = await tagTarget(repo, tag)
    if (target === null && (await tagProblem(ws, repo, tag)) === null) {
      await createTag(ws, repo, tag, commit, record.id)
    } else if (target !== commit) {
      log.warn({ tag, target, commit }, 'the patch tag is invalid or names another commit; leaving it')
      tag = null
    }
  }
  if (ws.remote !== undefined && (await pushToRemote(ws, repo, tag)) === 'rejected') {
    // Committed but never pushed, and the remote moved on: drop the local commit (only from a
    // clean tree, where that loses nothing) and apply the patch again on top of the remote.
    if ((await branchHead(repo, ws.branch)) !== commit || (await workspaceBlock(ws, repo)) !== null) {
      throw new PatchFailure('failed', 'REMOTE_DIVERGED', `commit ${commit} for this patch could not be pushed and the workspace cannot be reset safely`)
    }
    if (tag !== null) await deleteTag(repo, tag)
    await git(['reset', '-q', '--hard', `${commit}~1`], { repo })
    throw new PushRejected('the remote moved on before an earlier attempt pushed its commit')
  }
  log.info({ commit }, 'patch already committed by an earlier attempt; recording it once')
  return { status: 'applied', recovered: true, result: { commit, tag, files: await fileStats(repo, commit), checks: [], durations_ms: {} } }
}

/**
 * The store gave the patch up after its last attempt lost its lease (verifyOnly): the runner may
 * have died between its commit and recording it, so the branch, not the store, says how it
 * ended. Never applies the patch: applied with the commit an earlier attempt landed, otherwise
 * failed LEASE_LOST. recoverInterrupted has already undone a journaled write that never committed.
 */
export async function verifyLanded(ctx: ExecuteContext, at: LocatedWorkspace, search: LandedSearch, timer: PhaseTimer): Promise<Outcome> {
  const { record } = ctx.claimed
  const { ws, repo } = at
  let landed = await search.find()
  if (landed === null && ws.remote !== undefined) {
    // A runner on another host may have pushed it: catch up with the remote (from a clean tree) and look again.
    const { block, head } = await inspectWorkspace(ws, repo, { switchBranch: true })
    ctx.onBlocked?.(record.target, block)
    if (block !== null) throw new Unverified(block.message)
    let synced: string | null
    try {
      synced = await syncFromRemote(ws, repo, { local: head, patchId: record.id, log: ctx.log })
    } catch (err) {
      if (err instanceof PatchFailure) throw new Unverified(err.message)
      throw err
    }
    landed = await search.findAfterSync(head, synced)
  }
  if (landed !== null) return completeLanded(at, record, landed, ctx.log)
  return notLanded(record, ctx.config.runner.maxAttempts, `no commit for the patch is on ${ws.branch}`, timer)
}

/** The verified end of a patch given up after its last lost lease, when nothing of it landed. */
export function notLanded(record: PatchRecord, maxAttempts: number, why: string, timer: PhaseTimer): Outcome {
  const runner = record.events.findLast((e) => e.reason === VERIFY_ONLY_REASON)?.detail ?? 'unknown'
  const failure = new PatchFailure('failed', 'LEASE_LOST', `lease lost on the last of ${maxAttempts} attempts (last runner ${runner}); ${why}, and it was not applied again`)
  return { status: 'failed', error: failure.toPatchError(), result: nothingLanded(timer) }
}
