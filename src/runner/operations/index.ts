export { planOperations, type PlanOptions } from './plan.js'
export { RejectError, REJECT_CODES, type RejectCode } from './errors.js'
export { MODE_EXEC, MODE_FILE, MODE_SYMLINK, type FileChange, type FileState } from './types.js'
export { parseV4A, type V4AHunk, type V4AChunk } from './v4a-parse.js'
