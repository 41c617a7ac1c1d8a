import type { Operation } from '../../schemas/patch.js'
import { applyDiff } from './diff.js'
import { RejectError } from './errors.js'
import { Overlay } from './overlay.js'
import { DEFAULT_REGEX_TIMEOUT_MS } from './safe-regex.js'
import { DEFAULT_SIZE_LIMITS, type SizeLimits } from './size-limits.js'
import { applyDelete, applyInsert, applyRename, applyReplace, applyWrite } from './text-ops.js'
import type { FileChange } from './types.js'
import { applyV4A } from './v4a-apply.js'

export interface PlanOptions extends Partial<SizeLimits> {
  /** Wall-clock limit for each regex replace; a pattern that runs longer is rejected. */
  regexTimeoutMs?: number
  /** Where a diff's scratch work tree is made (default: the system's temp directory). */
  scratchDir?: string
}

async function applyOperation(overlay: Overlay, op: Operation, opts: PlanOptions): Promise<void> {
  switch (op.op) {
    case 'write':
      return applyWrite(overlay, op)
    case 'replace':
      return applyReplace(overlay, op, opts.regexTimeoutMs ?? DEFAULT_REGEX_TIMEOUT_MS)
    case 'insert':
      return applyInsert(overlay, op)
    case 'delete':
      return applyDelete(overlay, op)
    case 'rename':
      return applyRename(overlay, op)
    case 'diff':
      return applyDiff(overlay, op.diff, opts.scratchDir)
    case 'apply_patch':
      return applyV4A(overlay, op.patch)
    default: {
      const unknown: unknown = (op as { op?: unknown }).op
      throw new RejectError('PATCH_PARSE_ERROR', `unknown operation: ${String(unknown)}`)
    }
  }
}

/**
 * Works out what `ops` would do to the work tree at `root` without writing to it: each
 * operation sees the results of the ones before it, and the first that cannot apply rejects
 * the whole patch (RejectError carrying its index). Returns the files whose final state differs
 * from disk, removals first, so a writer can apply them in order. No file it plans may exceed
 * maxFileBytes, nor all it writes maxPatchBytes. It runs on the calling thread: the runner
 * calls it through planInWorker.
 */
export async function planOperations(root: string, ops: Operation[], opts: PlanOptions = {}): Promise<FileChange[]> {
  const overlay = await Overlay.open(root, {
    maxFileBytes: opts.maxFileBytes ?? DEFAULT_SIZE_LIMITS.maxFileBytes,
    maxPatchBytes: opts.maxPatchBytes ?? DEFAULT_SIZE_LIMITS.maxPatchBytes,
  })
  for (const [index, op] of ops.entries()) {
    try {
      await applyOperation(overlay, op, opts)
    } catch (err) {
      if (err instanceof RejectError && err.operation === undefined) err.operation = index
      throw err
    }
  }
  return overlay.changes()
}
