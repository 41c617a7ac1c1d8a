import type { Static } from '@sinclair/typebox'
import type { DeleteOp, InsertOp, RenameOp, ReplaceOp, WriteOp } from '../../schemas/patch.js'
import { RejectError } from './errors.js'
import type { Overlay } from './overlay.js'
import { regexMeasure, regexReplace } from './safe-regex.js'
import { candidateLines, candidateRegions, closestRegions, lineIndexes, textLines } from './hints.js'
import { decodeText, toEol, type TextView } from './text-codec.js'
import { MODE_FILE, MODE_SYMLINK, type FileState } from './types.js'

/** Occurrences of an ambiguous anchor counted before giving up counting. */
const MAX_OCCURRENCES = 1000

/** Reads a file an operation will edit as text: it must exist and must not be a symlink. */
export async function readEditable(overlay: Overlay, path: string): Promise<FileState> {
  const state = await overlay.read(path)
  if (state === null) throw new RejectError('FILE_NOT_FOUND', `no such file: ${path}`, { path })
  refuseSymlink(state, path)
  return state
}

export function refuseSymlink(state: FileState | null, path: string): void {
  if (state?.mode === MODE_SYMLINK) {
    throw new RejectError('PATH_OUTSIDE_WORKSPACE', `refusing to write through a symlink: ${path}`, { path })
  }
}

const showIn = (view: TextView) => (line: string) => view.encode(line).toString('utf8')

/** Not found: the closest regions of the file to the text looked for (a regex by its source). */
function notFound(view: TextView, message: string, path: string, wanted: string): RejectError {
  const regions = closestRegions(textLines(view.text), textLines(view.fromPatch(wanted)), showIn(view))
  return new RejectError('CONTEXT_NOT_FOUND', message, { path, detail: wanted, regions })
}

/** Found more than once: every place (overlapping ones too), the first few shown. */
function ambiguousAnchor(view: TextView, needle: string, path: string, anchor: string): RejectError {
  const offsets: number[] = []
  for (let i = view.text.indexOf(needle); i !== -1 && offsets.length < MAX_OCCURRENCES; i = view.text.indexOf(needle, i + 1)) offsets.push(i)
  const starts = lineIndexes(view.text, offsets)
  const lines = candidateLines(starts)
  const more = offsets.length >= MAX_OCCURRENCES ? ' or more' : ''
  return new RejectError('AMBIGUOUS_MATCH', `anchor occurs ${offsets.length}${more} times in ${path} (lines ${lines.slice(0, 5).join(', ')}); make it longer so it occurs once`, {
    path,
    detail: anchor,
    candidates: lines,
    regions: candidateRegions(textLines(view.text), textLines(needle), starts, showIn(view)),
  })
}

export async function applyWrite(overlay: Overlay, op: Static<typeof WriteOp>): Promise<void> {
  const existing = await overlay.read(op.path)
  refuseSymlink(existing, op.path)
  await overlay.write(op.path, { contents: Buffer.from(op.contents, 'utf8'), mode: existing?.mode ?? MODE_FILE })
}

export async function applyReplace(overlay: Overlay, op: Static<typeof ReplaceOp>, regexTimeoutMs: number): Promise<void> {
  const state = await readEditable(overlay, op.path)
  const view = decodeText(state.contents)
  // In a CRLF file, text the client wrote with '\n' means the file's line ending.
  const replacement = view.fromPatch(toEol(op.replace, view.eol))
  const find = op.regex === true ? view.fromPatch(op.find) : view.fromPatch(toEol(op.find, view.eol))
  const parts = op.regex === true ? null : view.text.split(find)
  const { count, length } =
    parts === null
      ? regexMeasure(view.text, find, replacement, regexTimeoutMs, op.path)
      : { count: parts.length - 1, length: view.text.length + (parts.length - 1) * (replacement.length - find.length) }
  if (count === 0) throw notFound(view, `text to replace not found in ${op.path}`, op.path, op.find)
  if (op.count !== undefined && op.count !== count) {
    throw new RejectError('COUNT_MISMATCH', `expected ${op.count} match(es) in ${op.path}, found ${count}`, {
      path: op.path,
      detail: op.find,
    })
  }
  // Each character is at least one byte: a replace that would amplify past a limit stops here, unbuilt.
  overlay.checkSize(op.path, length)
  const text = parts === null ? regexReplace(view.text, find, replacement, regexTimeoutMs, op.path) : parts.join(replacement)
  await overlay.write(op.path, { contents: view.encode(text), mode: state.mode })
}

export async function applyInsert(overlay: Overlay, op: Static<typeof InsertOp>): Promise<void> {
  const anchor = op.before ?? op.after
  if (anchor === undefined || (op.before !== undefined && op.after !== undefined)) {
    throw new RejectError('PATCH_PARSE_ERROR', 'insert needs exactly one of `before` and `after`', { path: op.path })
  }
  const state = await readEditable(overlay, op.path)
  const view = decodeText(state.contents)
  const needle = view.fromPatch(toEol(anchor, view.eol))
  const at = view.text.indexOf(needle)
  if (at === -1) throw notFound(view, `anchor not found in ${op.path}`, op.path, anchor)
  // Overlapping occurrences count: "aa" in "aaa" would be ambiguous about where to insert.
  if (view.text.indexOf(needle, at + 1) !== -1) throw ambiguousAnchor(view, needle, op.path, anchor)
  const cut = op.before !== undefined ? at : at + needle.length
  const inserted = view.fromPatch(toEol(op.contents, view.eol))
  const text = view.text.slice(0, cut) + inserted + view.text.slice(cut)
  await overlay.write(op.path, { contents: view.encode(text), mode: state.mode })
}

export async function applyDelete(overlay: Overlay, op: Static<typeof DeleteOp>): Promise<void> {
  if ((await overlay.read(op.path)) === null) {
    throw new RejectError('FILE_NOT_FOUND', `no such file: ${op.path}`, { path: op.path })
  }
  await overlay.remove(op.path)
}

export async function applyRename(overlay: Overlay, op: Static<typeof RenameOp>): Promise<void> {
  await moveFile(overlay, op.from, op.to)
}

/** Moves a file (or symlink) keeping its mode; the destination must be free. */
export async function moveFile(overlay: Overlay, from: string, to: string, contents?: Buffer): Promise<void> {
  const state = await overlay.read(from)
  if (state === null) throw new RejectError('FILE_NOT_FOUND', `no such file: ${from}`, { path: from })
  if (from === to || (await overlay.kind(to)) !== 'none') {
    throw new RejectError('FILE_EXISTS', `destination exists: ${to}`, { path: to })
  }
  await overlay.remove(from)
  await overlay.write(to, { contents: contents ?? state.contents, mode: state.mode })
}
