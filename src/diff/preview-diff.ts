import { formatPatch, structuredPatch } from 'diff'
import type { FileChange, FileState } from '../runner/operations/types.js'
import type { FileStat, PatchPreview } from '../schemas/preview.js'
import { DIFF_MAX_BYTES } from './commit-diff.js'

/** How long one file's diff may take; a costlier one is shown as a whole-file replacement. */
const FILE_DIFF_MS = 200
/** How long all of a preview's diffs may take: past it, files get their line counts only. */
const TOTAL_DIFF_MS = 2_000

const isBinary = (s: FileState | null) => s !== null && s.contents.subarray(0, 8000).includes(0)
const text = (s: FileState | null) => (s === null ? '' : s.contents.toString('utf8'))
const lineCount = (t: string) => (t === '' ? 0 : t.split('\n').length - (t.endsWith('\n') ? 1 : 0))

/** git's extended header lines: new or deleted file, mode change, rename. */
function modeLines(change: FileChange, oldPath: string, from: string | null): string {
  const { before, after } = change
  if (before === null) return `new file mode ${after!.mode.toString(8)}\n`
  if (after === null) return `deleted file mode ${before.mode.toString(8)}\n`
  const mode = before.mode !== after.mode ? `old mode ${before.mode.toString(8)}\nnew mode ${after.mode.toString(8)}\n` : ''
  return mode + (from !== null ? `rename from ${oldPath}\nrename to ${change.path}\n` : '')
}

interface FileDiff {
  stat: FileStat
  /** Unified diff text of this file; null when it was not worked out (time). */
  text: string | null
}

/** A deleted and an added file with the same contents and mode are one rename. */
function pairRenames(changes: FileChange[]): Map<FileChange, FileChange> {
  const renames = new Map<FileChange, FileChange>()
  const deleted = changes.filter((c) => c.after === null)
  for (const added of changes.filter((c) => c.before === null && c.after !== null)) {
    const at = deleted.findIndex((d) => d.before!.mode === added.after!.mode && d.before!.contents.equals(added.after!.contents))
    if (at !== -1) renames.set(added, deleted.splice(at, 1)[0]!)
  }
  return renames
}

function diffOne(change: FileChange, from: string | null, deadline: number): FileDiff {
  const status = from !== null ? 'renamed' : change.before === null ? 'added' : change.after === null ? 'deleted' : 'modified'
  const oldPath = from ?? change.path
  const header = (extra: string) => `diff --git a/${oldPath} b/${change.path}\n${extra}`
  const base = { path: change.path, status, ...(from !== null && { from }) } as const
  if (isBinary(change.before) || isBinary(change.after)) {
    return { stat: { ...base, additions: 0, deletions: 0, binary: true }, text: header(`Binary files ${change.before ? `a/${oldPath}` : '/dev/null'} and ${change.after ? `b/${change.path}` : '/dev/null'} differ\n`) }
  }
  const [before, after] = [text(change.before), text(change.after)]
  const budget = Math.min(FILE_DIFF_MS, deadline - Date.now())
  const patch = budget > 0 ? structuredPatch(change.before ? `a/${oldPath}` : '/dev/null', change.after ? `b/${change.path}` : '/dev/null', before, after, undefined, undefined, { context: 3, timeout: budget }) : undefined
  if (patch === undefined) return { stat: { ...base, additions: lineCount(after), deletions: lineCount(before) }, text: null }
  const lines = patch.hunks.flatMap((h) => h.lines)
  const stat = { ...base, additions: lines.filter((l) => l.startsWith('+')).length, deletions: lines.filter((l) => l.startsWith('-')).length }
  const mode = modeLines(change, oldPath, from)
  return { stat, text: patch.hunks.length === 0 && mode === '' && from === null ? '' : header(mode) + (patch.hunks.length > 0 ? formatPatch(patch).replace(/^=+\n/m, '').replace(/^Index: .*\n/m, '') : '') }
}

/**
 * What a planned patch would do, file by file (stats) and as one unified diff. Run in the
 * planner process (plan-process.ts), never on the service's event loop, and bounded so that a
 * preview answers in time: each file gets FILE_DIFF_MS, all of them TOTAL_DIFF_MS, and the
 * text stops at DIFF_MAX_BYTES after the last whole file that fits.
 */
export function previewDiff(target: string, changes: FileChange[]): PatchPreview {
  const renames = pairRenames(changes)
  const gone = new Set(renames.values())
  const deadline = Date.now() + TOTAL_DIFF_MS
  const files: FileStat[] = []
  let diff = ''
  let truncated = false
  for (const change of changes.filter((c) => !gone.has(c)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const source = renames.get(change)
    // A rename compares the file with its old self.
    const one = source ? diffOne({ ...change, before: source.before }, source.path, deadline) : diffOne(change, null, deadline)
    files.push(one.stat)
    if (one.text === null || Buffer.byteLength(diff) + Buffer.byteLength(one.text) > DIFF_MAX_BYTES) truncated = true
    else diff += one.text
  }
  return { target, files, diff, truncated }
}
