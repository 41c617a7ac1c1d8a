import type { Config } from '../../config.js'
import type { CheckResult, PatchError, PatchResult } from '../../schemas/record.js'
import type { ClaimedPatch, Store } from '../../store/port.js'
import type { LeaseKeeper } from '../claim/lease.js'
import { PatchFailure } from '../failure.js'
import type { RunnerLogger } from '../logger.js'
import type { LockOptions } from '../workspace/lock.js'
import type { WorkspaceBlock } from '../workspace/workspace.js'

/** What an attempt is given: the claimed patch, its lease, and where to report. */
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

/** The remote moved on before the push: the tree is restored and the patch goes round again. */
export class PushRejected extends Error {
  override readonly name = 'PushRejected'
}

/** The patch may have landed on the remote, which cannot be searched now (out of reach, or the tree is not clean to sync). */
export class Unverified extends Error {
  override readonly name = 'Unverified'
}

/** A failure that also carries what ran before it (check results), for the record. */
export class FailureWithChecks extends PatchFailure {
  constructor(
    failure: PatchFailure,
    readonly checks: CheckResult[],
  ) {
    super(failure.status, failure.code, failure.message, failure.info)
  }
}

/** How long each step took, for the record's `durations_ms`. */
export class PhaseTimer {
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

/** The result a patch that did not land records: no commit, and the checks that ran, if any. */
export const nothingLanded = (timer: PhaseTimer, checks: CheckResult[] = []): PatchResult => ({ commit: null, tag: null, files: [], checks, durations_ms: timer.durations })
