import { constants } from 'node:fs'
import { chmod, lstat, mkdir, open, readFile, readlink, rename, rmdir, symlink, unlink } from 'node:fs/promises'
import path from 'node:path'
import { resolveInside } from '../workspace/paths.js'
import { MODE_EXEC, MODE_SYMLINK, type FileChange, type FileState } from '../operations/index.js'
import { PatchFailure } from '../failure.js'
import { faultPoint } from '../../fault-point.js'

/** A file as it is on disk, with its exact permission bits (git only knows 644 and 755). */
export type DiskState = { kind: 'file'; contents: Buffer; perm: number } | { kind: 'symlink'; target: Buffer }

export interface CapturedChange {
  path: string
  abs: string
  before: DiskState | null
  after: FileState | null
}

export interface Snapshot {
  root: string
  /** The changes written so far, in the order they were written. */
  written: CapturedChange[]
  /** Directories this write created, parents first. */
  createdDirs: string[]
  /** Directories left empty by a deletion and removed, with their permission bits. */
  removedDirs: { abs: string; perm: number }[]
}

const isMissing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

export async function readDisk(abs: string): Promise<DiskState | null> {
  let st
  try {
    st = await lstat(abs)
  } catch (err) {
    if (isMissing(err)) return null
    throw err
  }
  if (st.isSymbolicLink()) return { kind: 'symlink', target: await readlink(abs, { encoding: 'buffer' }) }
  if (st.isFile()) return { kind: 'file', contents: await readFile(abs), perm: st.mode & 0o7777 }
  throw new PatchFailure('failed', 'WORKSPACE_CHANGED', `not a regular file or symlink: ${abs}`)
}

/** Whether the disk state is what the planner saw (or meant to produce). */
export function sameAsPlanned(disk: DiskState | null, planned: FileState | null): boolean {
  if (disk === null || planned === null) return disk === planned
  if (disk.kind === 'symlink') return planned.mode === MODE_SYMLINK && disk.target.equals(planned.contents)
  return planned.mode !== MODE_SYMLINK && (planned.mode === MODE_EXEC) === ((disk.perm & 0o100) !== 0) && disk.contents.equals(planned.contents)
}

/**
 * Reads the exact current state of every file the plan changes, refusing to go on when the
 * tree no longer looks as the planner saw it (someone wrote in between). Nothing is written.
 */
export async function captureChanges(root: string, changes: readonly FileChange[]): Promise<CapturedChange[]> {
  const out: CapturedChange[] = []
  for (const change of changes) {
    const abs = resolveInside(root, change.path)
    const before = await readDisk(abs)
    if (!sameAsPlanned(before, change.before)) {
      throw new PatchFailure('failed', 'WORKSPACE_CHANGED', `the workspace changed while the patch was being planned: ${change.path}`, { path: change.path })
    }
    out.push({ path: change.path, abs, before, after: change.after })
  }
  return out
}

/** Keeps read/write bits as they were and sets or clears execute where read is allowed, as git does. */
function withExec(perm: number, exec: boolean): number {
  if (!exec) return perm & ~0o111
  return perm | ((perm & 0o444) >> 2)
}

const tempName = (abs: string, tag: string, index: number) => path.join(path.dirname(abs), `.ghost-${tag}-${index}.tmp`)

/** Temp files a write with `tag` may leave behind if the process dies mid-write. */
export const tempFilesFor = (changes: readonly { abs: string }[], tag: string): string[] => changes.map((c, i) => tempName(c.abs, tag, i))

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY)
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Temp file in the same directory, fsync, rename: a reader sees the old file or the new one, never half. */
async function putState(abs: string, state: DiskState, temp: string): Promise<void> {
  await unlink(temp).catch((err: unknown) => {
    if (!isMissing(err)) throw err
  })
  try {
    if (state.kind === 'symlink') {
      await symlink(state.target, temp)
    } else {
      const fh = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
      try {
        await fh.writeFile(state.contents)
        // The umask must not decide the mode: set it exactly.
        await fh.chmod(state.perm)
        await fh.sync()
      } finally {
        await fh.close()
      }
    }
    await rename(temp, abs)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
}

async function removeFile(abs: string): Promise<void> {
  try {
    await unlink(abs)
  } catch (err) {
    if (!isMissing(err)) throw err
  }
}

/** Creates the missing directories between root and abs, recording each one it made. */
async function ensureParents(root: string, abs: string, created: string[]): Promise<void> {
  const rel = path.relative(root, path.dirname(abs))
  if (rel === '') return
  let dir = root
  for (const segment of rel.split(path.sep)) {
    dir = path.join(dir, segment)
    try {
      await mkdir(dir)
      created.push(dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const st = await lstat(dir)
      if (!st.isDirectory()) throw new PatchFailure('failed', 'WORKSPACE_CHANGED', `not a directory: ${path.relative(root, dir)}`)
    }
  }
}

/** Removes directories a deletion left empty, up to the root, as git would. */
async function pruneEmptyParents(root: string, abs: string, removed: Snapshot['removedDirs']): Promise<void> {
  for (let dir = path.dirname(abs); dir !== root && dir.startsWith(root + path.sep); dir = path.dirname(dir)) {
    const st = await lstat(dir)
    try {
      await rmdir(dir)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return
      throw err
    }
    removed.push({ abs: dir, perm: st.mode & 0o7777 })
  }
}

function afterState(change: CapturedChange): DiskState | null {
  const { after, before } = change
  if (after === null) return null
  if (after.mode === MODE_SYMLINK) return { kind: 'symlink', target: after.contents }
  const exec = after.mode === MODE_EXEC
  const perm = before?.kind === 'file' ? withExec(before.perm, exec) : exec ? 0o755 : 0o644
  return { kind: 'file', contents: after.contents, perm }
}

/**
 * Writes every captured change. Resolves to the snapshot restoreSnapshot() needs; if any write
 * fails, what was already written is restored before the error propagates.
 */
export async function writeChanges(root: string, changes: readonly CapturedChange[], tag: string): Promise<Snapshot> {
  const snapshot: Snapshot = { root, written: [], createdDirs: [], removedDirs: [] }
  const dirs = new Set<string>()
  try {
    for (const [i, change] of changes.entries()) {
      // Checked again at write time: a directory swapped for a symlink since planning is refused.
      resolveInside(root, change.path)
      snapshot.written.push(change)
      const state = afterState(change)
      if (state === null) {
        await removeFile(change.abs)
        await pruneEmptyParents(root, change.abs, snapshot.removedDirs)
      } else {
        await ensureParents(root, change.abs, snapshot.createdDirs)
        await putState(change.abs, state, tempName(change.abs, tag, i))
      }
      faultPoint('wrote-file')
      dirs.add(path.dirname(change.abs))
    }
    // Renames and unlinks are durable only once their directory is.
    for (const dir of dirs) await syncDir(dir).catch(() => {})
  } catch (err) {
    await restoreSnapshot(snapshot)
    throw err
  }
  return snapshot
}

/** Puts back one file exactly as it was captured. */
export async function restoreFile(root: string, change: Pick<CapturedChange, 'abs' | 'before'>, temp: string): Promise<void> {
  if (change.before === null) return removeFile(change.abs)
  await ensureParents(root, change.abs, [])
  await putState(change.abs, change.before, temp)
}

/**
 * Puts files back as captured, in an order that works when the patch turned a file into a
 * directory or back: created files go first, then the directories that held them, then the
 * old files return (re-creating the directories they need). Errors are collected, not fatal,
 * so one stuck file does not stop the rest from coming back.
 */
export async function restoreEntries(
  root: string,
  entries: readonly Pick<CapturedChange, 'abs' | 'before'>[],
  createdDirs: readonly string[],
  tempFor: (index: number) => string,
  errors: unknown[],
): Promise<void> {
  const reversed = [...entries.entries()].reverse()
  for (const [, change] of reversed) {
    if (change.before !== null) continue
    await removeFile(change.abs).catch((err: unknown) => errors.push(err))
  }
  for (const dir of [...createdDirs].reverse()) {
    try {
      await rmdir(dir)
    } catch (err) {
      // Not empty: someone else's file is in it now; leave it rather than lose that file.
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && !isMissing(err)) errors.push(err)
    }
  }
  for (const [i, change] of reversed) {
    if (change.before === null) continue
    await restoreFile(root, change, tempFor(i)).catch((err: unknown) => errors.push(err))
  }
}

/**
 * Undoes a write byte for byte: files written are put back (or removed when they were created),
 * deleted files return with their modes, created directories go and removed ones come back.
 */
export async function restoreSnapshot(snapshot: Snapshot): Promise<void> {
  const { root } = snapshot
  const errors: unknown[] = []
  await restoreEntries(root, snapshot.written, snapshot.createdDirs, (i) => tempName(snapshot.written[i]!.abs, 'restore', i), errors)
  for (const { abs, perm } of [...snapshot.removedDirs].reverse()) {
    try {
      await mkdir(abs, { recursive: true })
      await chmod(abs, perm)
    } catch (err) {
      errors.push(err)
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, `restore left ${errors.length} file(s) unrestored in ${root}`)
}
