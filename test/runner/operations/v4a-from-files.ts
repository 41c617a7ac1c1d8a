// Builds V4A apply_patch text from whole-file before/after pairs, the way a model would write
// it: Add/Delete/Update(+Move to) with a few lines of context around each change, widened only
// where the context alone would match more than one place (the service rejects such a chunk).

export interface FileEdit {
  /** Where the file ends up (or the file deleted). */
  path: string
  /** Set for a rename: where the file was. */
  from?: string
  before: string | null
  after: string | null
}

interface Op {
  kind: ' ' | '-' | '+'
  text: string
  /** Index in the old file of the line this op consumes (or, for '+', precedes). */
  old: number
}

const CONTEXT = 3

function splitLines(text: string): { lines: string[]; crlf: boolean; finalNewline: boolean } {
  const crlf = /\r\n/.test(text) && !/[^\r]\n/.test(text) && !text.startsWith('\n')
  const finalNewline = text === '' || text.endsWith('\n')
  const lines = text === '' ? [] : text.split('\n').map((l) => (crlf ? l.replace(/\r$/, '') : l))
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  return { lines, crlf, finalNewline }
}

/** Longest-common-subsequence line diff; files in tests are small. */
function diffLines(a: string[], b: string[]): Op[] {
  const n = a.length
  const m = b.length
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0))
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!)
    }
  }
  const ops: Op[] = []
  let i = 0
  let j = 0
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ kind: ' ', text: a[i]!, old: i })
      i++
      j++
    } else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      ops.push({ kind: '-', text: a[i]!, old: i })
      i++
    } else {
      ops.push({ kind: '+', text: b[j++]!, old: i })
    }
  }
  return ops
}

/** Where `pattern` occurs exactly at or after `from`: the only place, or -1 when none or several. */
function onlyExact(lines: string[], pattern: string[], from: number): number {
  let found = -1
  for (let i = from; i + pattern.length <= lines.length; i++) {
    if (!pattern.every((p, k) => lines[i + k] === p)) continue
    if (found !== -1) return -1
    found = i
  }
  return found
}

function updateChunks(before: string, after: string, path: string): string[] {
  const a = splitLines(before)
  const b = splitLines(after)
  if (a.lines.length > 0 && a.finalNewline !== b.finalNewline) throw new Error(`${path}: V4A cannot change a final newline`)
  if (a.lines.length > 0 && b.lines.length > 0 && a.crlf !== b.crlf) throw new Error(`${path}: V4A cannot change line endings`)
  const ops = diffLines(a.lines, b.lines)

  // Clusters of changed ops, merged when their contexts would touch.
  const clusters: Array<[number, number]> = []
  ops.forEach((op, k) => {
    if (op.kind === ' ') return
    const last = clusters[clusters.length - 1]
    if (last && k - last[1] <= 2 * CONTEXT + 1) last[1] = k
    else clusters.push([k, k])
  })

  const out: string[] = []
  let prevEnd = 0 // ops index after the previous hunk
  let prevOldEnd = 0 // old-file line after the previous hunk
  for (let c = 0; c < clusters.length; c++) {
    let [s, e] = clusters[c]!
    for (let widen = CONTEXT; ; widen++) {
      const nextStart = clusters[c + 1]?.[0] ?? ops.length
      const lo = Math.max(prevEnd, s - widen)
      const hi = Math.min(nextStart, e + 1 + widen)
      const hunk = ops.slice(lo, hi)
      const old = hunk.filter((o) => o.kind !== '+').map((o) => o.text)
      const intended = hunk.find((o) => o.kind !== '+')?.old ?? a.lines.length
      const found = old.length === 0 ? intended : onlyExact(a.lines, old, prevOldEnd)
      const atLimits = lo === prevEnd && hi === nextStart
      if (found === intended || (atLimits && c + 1 >= clusters.length)) {
        out.push('@@', ...hunk.map((o) => o.kind + o.text))
        const oldEnd = intended + old.length
        if (old.length > 0 && oldEnd === a.lines.length) out.push('*** End of File')
        prevEnd = hi
        prevOldEnd = oldEnd
        break
      }
      if (atLimits) {
        // Still ambiguous with all the room there is: fold the next cluster in and retry.
        e = clusters[c + 1]![1]
        clusters.splice(c + 1, 1)
        widen = CONTEXT - 1
        s = clusters[c]![0]
        clusters[c] = [s, e]
      }
    }
  }
  return out
}

export function toV4A(edits: FileEdit[]): string {
  const out = ['*** Begin Patch']
  for (const edit of edits) {
    if (edit.after === null) {
      out.push(`*** Delete File: ${edit.path}`)
    } else if (edit.before === null) {
      const { lines, finalNewline } = splitLines(edit.after)
      if (!finalNewline) throw new Error(`${edit.path}: V4A adds files with a final newline`)
      out.push(`*** Add File: ${edit.path}`, ...lines.map((l) => `+${l}`))
    } else {
      const source = edit.from ?? edit.path
      out.push(`*** Update File: ${source}`)
      if (edit.from !== undefined) out.push(`*** Move to: ${edit.path}`)
      if (edit.before !== edit.after) out.push(...updateChunks(edit.before, edit.after, edit.path))
    }
  }
  out.push('*** End Patch')
  return out.join('\n')
}
