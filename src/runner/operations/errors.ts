import type { MatchRegion, PatchError } from '../../schemas/record.js'

export const REJECT_CODES = [
  'CONTEXT_NOT_FOUND',
  'AMBIGUOUS_MATCH',
  'COUNT_MISMATCH',
  'FILE_EXISTS',
  'FILE_NOT_FOUND',
  'PATH_OUTSIDE_WORKSPACE',
  'PATCH_PARSE_ERROR',
  'REGEX_TIMEOUT',
  'INVALID_REGEX',
  'FILE_TOO_LARGE',
  'PATCH_TOO_LARGE',
  'PLAN_TIMEOUT',
  'PLAN_OUT_OF_MEMORY',
  'PLAN_CRASHED',
] as const
export type RejectCode = (typeof REJECT_CODES)[number]

export interface RejectInfo {
  operation?: number
  path?: string
  detail?: string
  /** 1-based first lines of the places an ambiguous text matched. */
  candidates?: number[]
  /** Regions of the actual file that help correct the patch; plain JSON, capped in size. */
  regions?: MatchRegion[]
}

/**
 * The patch cannot apply to the workspace as it stands. Anything else thrown while planning
 * (EIO, a missing git binary) is an infrastructure failure, not the patch's fault.
 */
export class RejectError extends Error {
  override readonly name = 'RejectError'
  readonly code: RejectCode
  /** Index of the failing operation; set by the planner when the error passes through it. */
  operation?: number
  path?: string
  /** The line, hunk or anchor that failed, or git's own message. */
  detail?: string
  candidates?: number[]
  regions?: MatchRegion[]

  constructor(code: RejectCode, message: string, info: RejectInfo = {}) {
    super(message)
    this.code = code
    if (info.operation !== undefined) this.operation = info.operation
    if (info.path !== undefined) this.path = info.path
    if (info.detail !== undefined) this.detail = info.detail
    if (info.candidates !== undefined) this.candidates = info.candidates
    if (info.regions !== undefined) this.regions = info.regions
  }

  toPatchError(): PatchError {
    const out: PatchError = { code: this.code, message: this.message }
    if (this.operation !== undefined) out.operation = this.operation
    if (this.path !== undefined) out.path = this.path
    if (this.detail !== undefined) out.detail = this.detail
    if (this.candidates !== undefined) out.candidates = this.candidates
    if (this.regions !== undefined) out.regions = this.regions
    return out
  }
}
