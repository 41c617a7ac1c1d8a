import { RejectError } from './errors.js'
import { closestRegions, HINT_LIMITS, textLines } from './hints.js'
import { decodeText } from './text-codec.js'
import type { FileState } from './types.js'

// When `git apply` refuses a hunk it names only the file and the hunk's old start line. The
// hunk itself and the lines of the file nearest to it are what an author needs to fix it.

interface Hunk {
  /** Names in the section's ---/+++ lines, without a/ and b/. */
  names: string[]
  oldStart: number
  /** The @@ line and the body, as the diff has them. */
  text: string[]
  /** Context and removed lines: what the file should have held. */
  old: string[]
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@/
const FILE_NAME = /^(?:---|\+\+\+) (?:[ab]\/)?(.+?)(?:\t.*)?$/

/** Reads one hunk's body from `from`, as far as its header's line counts reach. */
function readHunk(lines: readonly string[], from: number, oldCount: number, newCount: number): { end: number; body: string[] } {
  let i = from
  let o = oldCount
  let n = newCount
  while (i < lines.length && (o > 0 || n > 0)) {
    const c = (lines[i] ?? '')[0]
    if (c === '\\') {
      i++
      continue
    }
    if (c !== ' ' && c !== '-' && c !== '+' && c !== undefined) break
    // A blank line (c undefined) is context whose leading space some tools strip.
    if (c !== '+') o--
    if (c !== '-') n--
    i++
  }
  while ((lines[i] ?? '').startsWith('\\')) i++
  return { end: i, body: lines.slice(from, i) }
}

/** Every hunk of a unified diff, tolerant of anything else it holds (git's extended headers). */
export function parseHunks(diff: string): Hunk[] {
  const lines = diff.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
  const hunks: Hunk[] = []
  let names: string[] = []
  for (let i = 0; i < lines.length; ) {
    const line = lines[i] ?? ''
    if (line.startsWith('diff --git ')) names = []
    const name = FILE_NAME.exec(line)?.[1]
    if (name !== undefined && name !== '/dev/null') names = [...names, name]
    const h = HUNK_HEADER.exec(line)
    if (h === null) {
      i++
      continue
    }
    const { end, body } = readHunk(lines, i + 1, Number(h[2] ?? 1), Number(h[3] ?? 1))
    const old = body.filter((l) => l[0] !== '+' && l[0] !== '\\').map((l) => l.slice(1))
    hunks.push({ names, oldStart: Number(h[1]), text: [line, ...body], old })
    i = end
  }
  return hunks
}

/** The hunk git names with `patch failed: <path>:<line>`: by name, or the only one at that line. */
function failedHunk(diff: string, path: string, oldStart: number): Hunk | undefined {
  const atLine = parseHunks(diff).filter((h) => h.oldStart === oldStart)
  return atLine.find((h) => h.names.includes(path)) ?? (atLine.length === 1 ? atLine[0] : undefined)
}

const capped = (text: string[]): string => {
  const joined = text.join('\n')
  return joined.length > HINT_LIMITS.totalChars ? `${joined.slice(0, HINT_LIMITS.totalChars)}…` : joined
}

/**
 * A CONTEXT_NOT_FOUND from git apply with the failed hunk as detail and the file's nearest lines
 * as regions, in the same form as a V4A rejection; `err` itself when git named no hunk.
 */
export function explainFailedHunk(err: RejectError, diff: string, before: ReadonlyMap<string, FileState | null>): RejectError {
  const failed = (err.detail ?? '').split('\n').map((m) => /^patch failed: (.+):(\d+)$/.exec(m)).find((m) => m !== null)
  if (err.code !== 'CONTEXT_NOT_FOUND' || failed == null) return err
  const path = failed[1] ?? ''
  const hunk = failedHunk(diff, path, Number(failed[2]))
  if (hunk === undefined) return err
  const state = before.get(path)
  const view = state == null ? null : decodeText(state.contents)
  return new RejectError('CONTEXT_NOT_FOUND', `diff does not apply: hunk ${hunk.text[0] ?? ''} does not match ${path} (git: ${failed[0]})`, {
    path,
    detail: capped(hunk.text),
    ...(view !== null && {
      regions: closestRegions(textLines(view.text), hunk.old.map(view.fromPatch), (l) => view.encode(l).toString('utf8')),
    }),
  })
}
