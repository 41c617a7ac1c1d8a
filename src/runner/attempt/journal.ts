import { createHash } from 'node:crypto'
import { constants, readFileSync } from 'node:fs'
import { lstat, mkdir, open, rename, unlink } from 'node:fs/promises'
import path from 'node:path'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { MODE_SYMLINK } from '../operations/index.js'
import { readDisk, restoreEntries, tempFilesFor, type CapturedChange, type DiskState } from './tree-writer.js'

/**
 * The write-ahead record of a patch being applied, kept in the repository's git dir. It holds
 * every byte the patch replaces, so a runner killed mid-patch can be undone by the next one
 * instead of leaving a tree nobody may touch.
 */
const JournalEntry = Type.Object({
  path: Type.String(),
  before: Type.Union([
    Type.Null(),
    Type.Object({ kind: Type.Literal('file'), perm: Type.Integer(), data: Type.String() }),
    Type.Object({ kind: Type.Literal('symlink'), data: Type.String() }),
  ]),
  /** sha256 of what the patch writes (null: deletes), to recognise the runner's own writes. */
  after: Type.Union([Type.Null(), Type.Object({ symlink: Type.Boolean(), sha256: Type.String() })]),
})

export const Journal = Type.Object({
  version: Type.Literal(1),
  patch_id: Type.String(),
  runner_id: Type.String(),
  /** The branch head before the patch; null while the branch is unborn. */
  head: Type.Union([Type.String(), Type.Null()]),
  temp_tag: Type.String(),
  entries: Type.Array(JournalEntry),
  /** Directories the write will create, parents first. */
  created_dirs: Type.Array(Type.String()),
})
export type Journal = Static<typeof Journal>

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

export const journalDir = (gitDir: string) => path.join(gitDir, 'ghost-runner')
const journalFile = (gitDir: string) => path.join(journalDir(gitDir), 'journal.json')

function encodeBefore(before: DiskState | null): Static<typeof JournalEntry>['before'] {
  if (before === null) return null
  if (before.kind === 'symlink') return { kind: 'symlink', data: before.target.toString('base64') }
  return { kind: 'file', perm: before.perm, data: before.contents.toString('base64') }
}

function decodeBefore(before: Static<typeof JournalEntry>['before']): DiskState | null {
  if (before === null) return null
  if (before.kind === 'symlink') return { kind: 'symlink', target: Buffer.from(before.data, 'base64') }
  return { kind: 'file', perm: before.perm, contents: Buffer.from(before.data, 'base64') }
}

/** The directories writing `changes` will create: ancestors of new files that do not exist yet. */
async function dirsToCreate(root: string, changes: readonly CapturedChange[]): Promise<string[]> {
  const out: string[] = []
  const seen = new Set<string>()
  for (const c of changes) {
    if (c.after === null) continue
    let dir = root
    for (const segment of path.relative(root, path.dirname(c.abs)).split(path.sep).filter(Boolean)) {
      dir = path.join(dir, segment)
      if (seen.has(dir)) continue
      seen.add(dir)
      // A file there now is one the patch deletes first to make room for the directory.
      const isDir = await lstat(dir).then((st) => st.isDirectory(), () => false)
      if (!isDir) out.push(path.relative(root, dir).split(path.sep).join('/'))
    }
  }
  return out
}

export async function buildJournal(
  root: string,
  init: { patchId: string; runnerId: string; head: string | null; tempTag: string },
  changes: readonly CapturedChange[],
): Promise<Journal> {
  return {
    version: 1,
    patch_id: init.patchId,
    runner_id: init.runnerId,
    head: init.head,
    temp_tag: init.tempTag,
    entries: changes.map((c) => ({
      path: c.path,
      before: encodeBefore(c.before),
      after: c.after === null ? null : { symlink: c.after.mode === MODE_SYMLINK, sha256: sha256(c.after.contents) },
    })),
    created_dirs: await dirsToCreate(root, changes),
  }
}

/** Durable before it resolves: temp file, fsync, rename, fsync of the directory. */
export async function writeJournal(gitDir: string, journal: Journal): Promise<void> {
  const dir = journalDir(gitDir)
  await mkdir(dir, { recursive: true })
  const temp = path.join(dir, 'journal.json.tmp')
  const fh = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600)
  try {
    await fh.writeFile(JSON.stringify(journal))
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(temp, journalFile(gitDir))
  const dh = await open(dir, constants.O_RDONLY)
  try {
    await dh.sync()
  } finally {
    await dh.close()
  }
}

export function readJournal(gitDir: string): Journal | null {
  let text: string
  try {
    text = readFileSync(journalFile(gitDir), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  const value: unknown = JSON.parse(text)
  if (!Value.Check(Journal, value)) throw new Error(`unreadable runner journal: ${journalFile(gitDir)}`)
  return value
}

export async function removeJournal(gitDir: string): Promise<void> {
  await unlink(journalFile(gitDir)).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  })
}

function isRunnerWrite(disk: DiskState | null, after: Static<typeof JournalEntry>['after']): boolean {
  if (disk === null || after === null) return disk === null && after === null
  if (disk.kind === 'symlink') return after.symlink && sha256(disk.target) === after.sha256
  return !after.symlink && sha256(disk.contents) === after.sha256
}

function sameDisk(a: DiskState | null, b: DiskState | null): boolean {
  if (a === null || b === null) return a === b
  if (a.kind === 'symlink' || b.kind === 'symlink') return a.kind === b.kind && (a as { target: Buffer }).target.equals((b as { target: Buffer }).target)
  return a.contents.equals(b.contents) && a.perm === b.perm
}

export interface Recovery {
  /** Paths put back to their state before the interrupted patch. */
  restored: string[]
  /** Paths changed since by someone else: left alone (the dirty check will report them). */
  conflicts: string[]
}

/**
 * Undoes the interrupted write a journal describes, touching only files that still hold what
 * the runner wrote: a file someone changed since is left for the dirty check to report.
 */
export async function undoJournal(root: string, journal: Journal): Promise<Recovery> {
  const restored: string[] = []
  const conflicts: string[] = []
  const entries = journal.entries.map((e) => ({ ...e, abs: path.join(root, ...e.path.split('/')) }))
  for (const temp of [...tempFilesFor(entries, journal.temp_tag), ...tempFilesFor(entries, 'restore')]) {
    await unlink(temp).catch(() => {})
  }
  const undo: { abs: string; before: DiskState | null }[] = []
  const created = new Set(journal.created_dirs)
  for (const entry of entries) {
    const before = decodeBefore(entry.before)
    // A directory the patch made where it deleted a file counts as the file being gone: it goes below.
    const disk = await readDisk(entry.abs).catch(() => (created.has(entry.path) ? null : undefined))
    if (disk !== undefined && sameDisk(disk, before)) continue
    if (disk === undefined || !isRunnerWrite(disk, entry.after)) {
      conflicts.push(entry.path)
      continue
    }
    undo.push({ abs: entry.abs, before })
    restored.push(entry.path)
  }
  const errors: unknown[] = []
  const createdDirs = journal.created_dirs.map((rel) => path.join(root, ...rel.split('/')))
  await restoreEntries(root, undo, createdDirs, (i) => path.join(path.dirname(undo[i]!.abs), `.ghost-recover-${i}.tmp`), errors)
  if (errors.length > 0) throw new AggregateError(errors, `could not undo the interrupted patch ${journal.patch_id} in ${root}`)
  return { restored, conflicts }
}
