import { RejectError } from './errors.js'
import { candidateLines, candidateRegions, closestRegions, type Show } from './hints.js'
import type { Overlay } from './overlay.js'
import { decodeText } from './text-codec.js'
import { moveFile, readEditable } from './text-ops.js'
import { MODE_FILE } from './types.js'
import { seekAll } from './v4a-match.js'
import { parseV4A, type V4AChunk } from './v4a-parse.js'

interface Edit {
  start: number
  length: number
  lines: string[]
}

interface FileLines {
  path: string
  lines: string[]
  show: Show
}

type ChunkLine = { kind: ' ' | '-' | '+'; text: string }

const render = (chunk: V4AChunk): string =>
  [...chunk.anchors.map((a) => `@@ ${a}`), ...chunk.lines.map((l) => l.kind + l.text)].join('\n')

const after = (index: number): string => (index > 0 ? ` after line ${index}` : '')

function ambiguous(file: FileLines, what: string, pattern: string[], found: number[], detail: string): RejectError {
  const lines = candidateLines(found)
  const message = `${what} matches ${found.length} places in ${file.path} (lines ${lines.slice(0, 5).join(', ')}${found.length > 5 ? ', …' : ''}); add context lines or @@ lines that tell them apart`
  return new RejectError('AMBIGUOUS_MATCH', message, { path: file.path, detail, candidates: lines, regions: candidateRegions(file.lines, pattern, found, file.show) })
}

function notFound(file: FileLines, what: string, pattern: string[], index: number, detail: string): RejectError {
  return new RejectError('CONTEXT_NOT_FOUND', `${what} not found in ${file.path}${after(index)}`, {
    path: file.path,
    detail,
    regions: closestRegions(file.lines, pattern, file.show),
  })
}

/**
 * Narrows the search with each @@ anchor in turn (its first match at the strictest level); the
 * line after the last is where the chunk's context is looked for. When the chunk has no old lines
 * the last anchor alone places it, so it must be unique.
 */
function passAnchors(file: FileLines, chunk: V4AChunk, anchors: string[], start: number, placesAlone: boolean): number {
  let index = start
  anchors.forEach((anchor, n) => {
    const found = seekAll(file.lines, [anchor], index, false)
    const detail = `@@ ${chunk.anchors[n] ?? anchor}`
    if (found.length === 0) throw notFound(file, 'anchor', [anchor], index, detail)
    if (placesAlone && n === anchors.length - 1 && found.length > 1) throw ambiguous(file, 'anchor', [anchor], found, detail)
    index = (found[0] ?? index) + 1
  })
  return index
}

/** Where the chunk's old lines are, at or after `index`: exactly one place, or a rejection. */
function locate(file: FileLines, chunk: V4AChunk, lines: ChunkLine[], index: number): { at: number; ops: ChunkLine[] } {
  const oldOf = (ops: ChunkLine[]) => ops.filter((l) => l.kind !== '+').map((l) => l.text)
  let ops = lines
  let found = seekAll(file.lines, oldOf(ops), index, chunk.eof)
  // Blank lines trailing a chunk are usually the patch's own spacing, not the file's.
  while (found.length === 0 && ops.length > 1 && ops[ops.length - 1]?.kind === ' ' && ops[ops.length - 1]?.text === '') {
    ops = ops.slice(0, -1)
    if (oldOf(ops).length === 0) break
    found = seekAll(file.lines, oldOf(ops), index, chunk.eof)
  }
  const what = chunk.eof ? 'end-of-file context' : 'context'
  if (found.length === 0) throw notFound(file, what, oldOf(lines), index, render(chunk))
  if (found.length > 1) throw ambiguous(file, what, oldOf(ops), found, render(chunk))
  return { at: found[0] ?? index, ops }
}

/**
 * Applies update chunks to a file's bytes. Each chunk must match exactly one place at or after
 * the previous one: a patch that could land in two places is rejected, never guessed. Context
 * lines keep the file's own text (as apply_patch.py does), so a loosely matched line is not
 * rewritten to the patch's spelling; only '-' lines go and '+' lines arrive. The file's line
 * ending and its final newline, or lack of one, are kept.
 */
export function applyChunks(contents: Buffer, chunks: readonly V4AChunk[], path: string): Buffer {
  const view = decodeText(contents)
  const lines = view.text === '' ? [] : view.text.split(view.eol)
  const finalNewline = lines.length === 0 || lines[lines.length - 1] === ''
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  const file: FileLines = { path, lines, show: (l) => view.encode(l).toString('utf8') }

  const edits: Edit[] = []
  let index = 0
  for (const chunk of chunks) {
    const ops = chunk.lines.map((l) => ({ kind: l.kind, text: view.fromPatch(l.text) }))
    const pureAddition = ops.every((l) => l.kind === '+')
    index = passAnchors(file, chunk, chunk.anchors.map(view.fromPatch), index, pureAddition)
    if (pureAddition) {
      // Nothing to match: after the anchor when there is one, else appended (codex does the same).
      edits.push({ start: chunk.anchors.length > 0 ? index : lines.length, length: 0, lines: ops.map((l) => l.text) })
      continue
    }
    const { at, ops: used } = locate(file, chunk, ops, index)
    const out: string[] = []
    let k = at
    for (const l of used) {
      if (l.kind === ' ') out.push(lines[k++] ?? '')
      else if (l.kind === '-') k++
      else out.push(l.text)
    }
    edits.push({ start: at, length: k - at, lines: out })
    index = k
  }

  // Later edits first so earlier positions stay valid; equal starts keep patch order.
  const ordered = edits.map((e, n) => ({ e, n })).sort((a, b) => b.e.start - a.e.start || b.n - a.n)
  for (const { e } of ordered) lines.splice(e.start, e.length, ...e.lines)
  const text = lines.length === 0 ? '' : lines.join(view.eol) + (finalNewline ? view.eol : '')
  return view.encode(text)
}

/** Applies a whole V4A patch to the overlay, hunk by hunk. */
export async function applyV4A(overlay: Overlay, patch: string): Promise<void> {
  for (const hunk of parseV4A(patch)) {
    if (hunk.type === 'add') {
      if ((await overlay.kind(hunk.path)) !== 'none') {
        throw new RejectError('FILE_EXISTS', `file to add exists: ${hunk.path}`, { path: hunk.path })
      }
      const text = hunk.lines.map((l) => `${l}\n`).join('')
      await overlay.write(hunk.path, { contents: Buffer.from(text, 'utf8'), mode: MODE_FILE })
    } else if (hunk.type === 'delete') {
      if ((await overlay.read(hunk.path)) === null) {
        throw new RejectError('FILE_NOT_FOUND', `file to delete not found: ${hunk.path}`, { path: hunk.path })
      }
      await overlay.remove(hunk.path)
    } else {
      const state = await readEditable(overlay, hunk.path)
      const contents = hunk.chunks.length > 0 ? applyChunks(state.contents, hunk.chunks, hunk.path) : state.contents
      if (hunk.moveTo !== null && hunk.moveTo !== hunk.path) {
        await moveFile(overlay, hunk.path, hunk.moveTo, contents)
      } else {
        await overlay.write(hunk.path, { contents, mode: state.mode })
      }
    }
  }
}
