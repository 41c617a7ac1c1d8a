import { RejectError } from './errors.js'

const MiB = 1024 * 1024

export interface SizeLimits {
  /** Largest file the patch may produce. */
  maxFileBytes: number
  /** Bytes of file contents the whole patch may write. */
  maxPatchBytes: number
}

/** The defaults of the settings `workspaces.*.limits.fileSizeMb` and `limits.patchWriteMb`. */
export const DEFAULT_SIZE_LIMITS: SizeLimits = { maxFileBytes: 1024 * MiB, maxPatchBytes: 64 * MiB }

const mib = (bytes: number) => `${Math.round((bytes / MiB) * 10) / 10} MiB`

/**
 * What the patch plans to write, held to the limits file by file as it is planned: a patch
 * that would produce too much is refused while its contents are still being worked out, long
 * before anything reaches the workspace. A file planned twice counts once, at its last size.
 */
export class WriteBudget {
  readonly #sizes = new Map<string, number>()
  #total = 0

  constructor(readonly limits: SizeLimits) {}

  /**
   * Refuses `path` holding `bytes`. Also called before an edit builds its result, with a lower
   * bound of its size, so an amplifying edit is refused without being built.
   */
  check(path: string, bytes: number): void {
    const { maxFileBytes, maxPatchBytes } = this.limits
    if (bytes > maxFileBytes) {
      throw new RejectError('FILE_TOO_LARGE', `${path} would hold ${mib(bytes)} or more, over the ${mib(maxFileBytes)} limit of one file`, { path })
    }
    const total = this.#total - (this.#sizes.get(path) ?? 0) + bytes
    if (total > maxPatchBytes) {
      throw new RejectError('PATCH_TOO_LARGE', `the patch would write ${mib(total)} or more, over its ${mib(maxPatchBytes)} limit`, { path })
    }
  }

  /** Plans `path` to hold `bytes` (0: removed). */
  record(path: string, bytes: number): void {
    this.check(path, bytes)
    this.#total += bytes - (this.#sizes.get(path) ?? 0)
    this.#sizes.set(path, bytes)
  }
}
