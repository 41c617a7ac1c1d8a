import { RejectError } from './errors.js'

export interface V4ALine {
  kind: ' ' | '-' | '+'
  text: string
}

export interface V4AChunk {
  /** `@@ <anchor>` lines, located in order before the chunk's lines are. */
  anchors: string[]
  lines: V4ALine[]
  /** Marked `*** End of File`: the chunk's old lines end the file. */
  eof: boolean
}

export type V4AHunk =
  | { type: 'add'; path: string; lines: string[] }
  | { type: 'delete'; path: string }
  | { type: 'update'; path: string; moveTo: string | null; chunks: V4AChunk[] }

const BEGIN = '*** Begin Patch'
const END = '*** End Patch'
const ADD = '*** Add File: '
const DELETE = '*** Delete File: '
const UPDATE = '*** Update File: '
const MOVE = '*** Move to: '
const EOF_MARK = '*** End of File'

/**
 * Parses OpenAI's V4A patch format with the leniency of the reference parser (codex
 * apply-patch): markers may carry surrounding whitespace, the first chunk of an update may omit
 * its `@@`, a bare empty line inside a chunk is an empty context line. Two additions: several
 * `@@ anchor` lines in a row narrow the position step by step, and an update with a `Move to`
 * needs no chunks (a pure rename).
 */
export function parseV4A(patch: string): V4AHunk[] {
  // A CRLF patch means nothing different from an LF one; CRs on its lines are transport noise.
  const all = patch.trim().split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
  const first = all[0] ?? ''
  if (first.trim() !== BEGIN) throw parseError(1, first, `the first line must be '${BEGIN}'`)
  const last = all[all.length - 1] ?? ''
  if (all.length < 2 || last.trim() !== END) throw parseError(all.length, last, `the last line must be '${END}'`)

  const body = all.slice(1, -1)
  const hunks: V4AHunk[] = []
  let i = 0
  const lineNo = () => i + 2
  while (i < body.length) {
    const raw = body[i] ?? ''
    const line = raw.trim()
    if (line === '') {
      i++
      continue
    }
    if (line.startsWith(ADD)) {
      const path = line.slice(ADD.length).trim()
      i++
      const lines: string[] = []
      while (i < body.length && (body[i] ?? '').startsWith('+')) lines.push((body[i++] ?? '').slice(1))
      hunks.push({ type: 'add', path, lines })
    } else if (line.startsWith(DELETE)) {
      hunks.push({ type: 'delete', path: line.slice(DELETE.length).trim() })
      i++
    } else if (line.startsWith(UPDATE)) {
      const path = line.slice(UPDATE.length).trim()
      const header = lineNo()
      i++
      let moveTo: string | null = null
      const next = (body[i] ?? '').trim()
      if (next.startsWith(MOVE)) {
        moveTo = next.slice(MOVE.length).trim()
        i++
      }
      const chunks: V4AChunk[] = []
      while (i < body.length) {
        const l = body[i] ?? ''
        if (l.trim() === '') {
          i++
          continue
        }
        if (l.startsWith('*')) break
        const parsed = parseChunk(body, i, chunks.length === 0)
        chunks.push(parsed.chunk)
        i = parsed.next
      }
      if (chunks.length === 0 && moveTo === null) throw parseError(header, raw, `update of ${path} has no chunks`)
      hunks.push({ type: 'update', path, moveTo, chunks })
    } else {
      throw parseError(lineNo(), raw, `expected '${ADD}', '${DELETE}' or '${UPDATE}'`)
    }
  }
  if (hunks.length === 0) throw parseError(1, first, 'the patch names no files')
  return hunks
}

function parseChunk(body: string[], start: number, first: boolean): { chunk: V4AChunk; next: number } {
  let i = start
  const anchors: string[] = []
  let headed = false
  while (i < body.length && (body[i] ?? '').startsWith('@@')) {
    const l = body[i] ?? ''
    if (l.trim() === '@@') {
      headed = true
    } else if (l.startsWith('@@ ')) {
      headed = true
      // '@@ ' plus blanks is a bare header with stray spaces, not an anchor on a blank line.
      if (l.slice(3).trim() !== '') anchors.push(l.slice(3))
    } else {
      throw parseError(i + 2, l, "a chunk header is '@@' or '@@ <line>'")
    }
    i++
  }
  if (!headed && !first) throw parseError(i + 2, body[i] ?? '', "expected a chunk header ('@@')")
  const lines: V4ALine[] = []
  let eof = false
  for (; i < body.length; i++) {
    const l = body[i] ?? ''
    if (l.trim() === EOF_MARK) {
      if (lines.length === 0) break
      eof = true
      i++
      break
    }
    const c = l[0]
    if (l === '') lines.push({ kind: ' ', text: '' })
    else if (c === ' ' || c === '-' || c === '+') lines.push({ kind: c, text: l.slice(1) })
    else break
  }
  if (lines.length === 0) {
    throw parseError(i + 2, body[i] ?? '', "a chunk needs lines starting with ' ', '-' or '+'")
  }
  return { chunk: { anchors, lines, eof }, next: i }
}

const parseError = (lineNumber: number, line: string, why: string): RejectError =>
  new RejectError('PATCH_PARSE_ERROR', `invalid V4A patch at line ${lineNumber}: ${why}`, { detail: line })
