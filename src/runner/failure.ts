import type { PatchError } from '../schemas/record.js'

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
    readonly code: string,
    message: string,
    readonly info: Omit<PatchError, 'code' | 'message'> = {},
  ) {
    super(message)
  }

  toPatchError(): PatchError {
    return { code: this.code, message: this.message, ...this.info }
  }
}
