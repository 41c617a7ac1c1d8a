import type { Static } from '@sinclair/typebox'
import type { DeleteOp, InsertOp, RenameOp, ReplaceOp, WriteOp } from '../../schemas/patch.js'
import { RejectError } from './errors.js'
import type { Overlay } from './overlay.js'
import { regexReplace } from './safe-regex.js'
import { decodeText, toEol } from './text-codec.js'
import { MODE_FILE, MODE_SYMLINK, type FileState } from './types.js'

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
  let count: number
  let text: string
  if (op.regex === true) {
    ;({ count, text } = regexReplace(view.text, view.fromPatch(op.find), replacement, regexTimeoutMs, op.path))
  } else {
    const parts = view.text.split(view.fromPatch(toEol(op.find, view.eol)))
    count = parts.length - 1
    text = parts.join(replacement)
  }
  if (count === 0) throw new RejectError('CONTEXT_NOT_FOUND', `text to replace not found in ${op.path}`, { path: op.path, detail: op.find })
  if (op.count !== undefined && op.count !== count) {
    throw new RejectError('COUNT_MISMATCH', `expected ${op.count} match(es) in ${op.path}, found ${count}`, {
      path: op.path,
      detail: op.find,
    })
  }
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
  if (at === -1) throw new RejectError('CONTEXT_NOT_FOUND', `anchor not found in ${op.path}`, { path: op.path, detail: anchor })
  // Overlapping occurrences count: "aa" in "aaa" would be ambiguous about where to insert.
  if (view.text.indexOf(needle, at + 1) !== -1) {
    throw new RejectError('AMBIGUOUS_MATCH', `anchor occurs more than once in ${op.path}`, { path: op.path, detail: anchor })
  }
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
