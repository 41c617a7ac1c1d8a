import type { PatchError } from '../schemas/record.js'
import type { RejectCode } from './operations/errors.js'

/**
 * Every code the runner itself ends a patch with (the planner's own are REJECT_CODES in
 * operations/errors.ts), and what it means. A record's `error.code` is one of these or a reject
 * code; clients and the README match on the strings, so they never change.
 */
export const RUNNER_CODES = {
  UNKNOWN_TARGET: 'rejected: no workspace has the patch target name',
  CHECK_NOT_ALLOWED: 'rejected: the patch names a check the workspace does not allow',
  INVALID_COMMIT_MESSAGE: 'rejected: the commit message cannot be given to git (a NUL byte)',
  INVALID_TAG: 'rejected: the tag would shadow a branch, HEAD or a commit id, or is not a valid tag name',
  TAG_EXISTS: 'rejected: the tag already exists in the workspace',
  WORKSPACE_DIRTY: 'rejected: the workspace has changes the runner did not make',
  WORKSPACE_BUSY: 'rejected: a merge, rebase or similar operation is in progress in the workspace',
  WORKSPACE_WRONG_BRANCH: 'rejected: the workspace is on another branch and could not be switched',
  WORKSPACE_UNAVAILABLE: 'failed: the workspace is missing, not a repository, or could not be cloned',
  WORKSPACE_CHANGED: 'failed: a file changed between planning and writing; the tree was restored',
  CHECK_FAILED: 'failed: a check did not pass; the tree was restored',
  CHECK_TIMEOUT: 'failed: a check ran past its timeout and was killed; the tree was restored',
  COMMIT_FAILED: 'failed: the commit or tag could not be created; the tree was restored',
  RESTORE_FAILED: 'failed: the tree could not be restored; the workspace stays blocked until the journal is undone',
  REMOTE_UNAVAILABLE: 'failed: the remote could not be fetched',
  REMOTE_DIVERGED: "failed: the workspace branch and the remote's diverged; a person must reconcile them",
  PUSH_FAILED: 'failed: the commit could not be pushed; the tree was restored',
  PUSH_REJECTED: 'failed: the remote moved before each push, up to the attempt limit',
  LEASE_LOST: 'failed: the last attempt lost its lease and no commit of the patch landed',
  RUNNER_ERROR: 'failed: the runner itself failed; the tree was restored',
} as const satisfies Record<string, string>

export type RunnerCode = keyof typeof RUNNER_CODES

/** Why a workspace is unusable: a runner code, as the patch and the heartbeat show it. */
export type BlockCode = Extract<RunnerCode, 'WORKSPACE_DIRTY' | 'WORKSPACE_BUSY' | 'WORKSPACE_WRONG_BRANCH' | 'WORKSPACE_UNAVAILABLE' | 'RESTORE_FAILED'>

export type FailureStatus = 'failed' | 'rejected'

/**
 * Ends a patch with a reason code. `rejected`: it cannot apply to the workspace as it stands
 * (nothing was written); `failed`: it was tried and the tree restored, or the runner could not
 * work on it at all.
 */
export class PatchFailure extends Error {
  override readonly name = 'PatchFailure'
  constructor(
    readonly status: FailureStatus,
    readonly code: RunnerCode | RejectCode,
    message: string,
    readonly info: Omit<PatchError, 'code' | 'message'> = {},
  ) {
    super(message)
  }

  toPatchError(): PatchError {
    return { code: this.code, message: this.message, ...this.info }
  }
}
