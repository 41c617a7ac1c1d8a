import { RejectError } from './errors.js'
import type { Overlay } from './overlay.js'
import { decodeText } from './text-codec.js'
import { moveFile, readEditable } from './text-ops.js'
import { MODE_FILE } from './types.js'
import { seekSequence } from './v4a-match.js'
import { parseV4A, type V4AChunk } from './v4a-parse.js'

interface Edit {
  start: number
  length: number
  lines: string[]
}

const render = (chunk: V4AChunk): string =>
  [...chunk.anchors.map((a) => `@@ ${a}`), ...chunk.lines.map((l) => l.kind + l.text)].join('\n')

/**
 * Applies update chunks to a file's bytes. Context lines keep the file's own text (as
 * apply_patch.py does), so a loosely matched line is not rewritten to the patch's spelling;
 * only '-' lines go and '+' lines arrive. The file's line ending and its final newline, or lack
 * of one, are kept.
 */
export function applyChunks(contents: Buffer, chunks: readonly V4AChunk[], path: string): Buffer {
  const view = decodeText(contents)
  const lines = view.text === '' ? [] : view.text.split(view.eol)
  const finalNewline = lines.length === 0 || lines[lines.length - 1] === ''
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()

  const edits: Edit[] = []
  let index = 0
  for (const chunk of chunks) {
    for (const anchor of chunk.anchors) {
      const at = seekSequence(lines, [view.fromPatch(anchor)], index, false)
      if (at === -1) throw new RejectError('CONTEXT_NOT_FOUND', `anchor not found in ${path}`, { path, detail: `@@ ${anchor}` })
      index = at + 1
    }
    let ops = chunk.lines.map((l) => ({ kind: l.kind, text: view.fromPatch(l.text) }))
    const oldOf = () => ops.filter((l) => l.kind !== '+').map((l) => l.text)

    if (oldOf().length === 0) {
      // Nothing to match: after the anchor when there is one, else appended (codex does the same).
      const at = chunk.anchors.length > 0 ? index : lines.length
      edits.push({ start: at, length: 0, lines: ops.map((l) => l.text) })
      continue
    }
    let at = seekSequence(lines, oldOf(), index, chunk.eof)
    // Blank lines trailing a chunk are usually the patch's own spacing, not the file's.
    while (at === -1 && ops.length > 1 && ops[ops.length - 1]?.kind === ' ' && ops[ops.length - 1]?.text === '') {
      ops = ops.slice(0, -1)
      if (oldOf().length === 0) break
      at = seekSequence(lines, oldOf(), index, chunk.eof)
    }
    if (at === -1) throw new RejectError('CONTEXT_NOT_FOUND', `context not found in ${path}`, { path, detail: render(chunk) })

    const out: string[] = []
    let k = at
    for (const l of ops) {
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
