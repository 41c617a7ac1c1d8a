import { lstat, readFile, readlink, realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import { checkRelativePath, checkSymlinkTarget, symlinkDestination } from '../workspace/paths.js'
import { RejectError } from './errors.js'
import { DEFAULT_SIZE_LIMITS, WriteBudget, type SizeLimits } from './size-limits.js'
import { MODE_EXEC, MODE_FILE, MODE_SYMLINK, sameState, type FileChange, type FileState } from './types.js'

type DiskKind = 'file' | 'symlink' | 'dir' | 'none' | 'other'
export type ViewKind = 'file' | 'dir' | 'none'

const outside = (p: string, why: string): RejectError =>
  new RejectError('PATH_OUTSIDE_WORKSPACE', `${why}: ${p}`, { path: p })

const isMissing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

/**
 * The workspace as the patch sees it: disk state read lazily and cached, with every planned
 * change layered on top. Nothing here writes to the tree; `changes()` is the only output.
 */
export class Overlay {
  private readonly kinds = new Map<string, DiskKind>()
  private readonly disk = new Map<string, FileState | null>()
  private readonly planned = new Map<string, FileState | null>()

  private constructor(
    private readonly realRoot: string,
    private readonly budget: WriteBudget,
  ) {}

  static async open(root: string, limits: SizeLimits = DEFAULT_SIZE_LIMITS): Promise<Overlay> {
    const realRoot = await realpath(root)
    if (!(await stat(realRoot)).isDirectory()) throw new Error(`workspace root is not a directory: ${root}`)
    return new Overlay(realRoot, new WriteBudget(limits))
  }

  /** Refuses an edit whose result at `p` would hold at least `bytes`, before it is built. */
  checkSize(p: string, bytes: number): void {
    this.budget.check(p, bytes)
  }

  /** The file at `p` in the view, or null when there is none (absent, a directory, under a file). */
  async read(p: string): Promise<FileState | null> {
    this.checkName(p)
    const blocked = await this.checkAncestors(p)
    if (this.planned.has(p)) return this.planned.get(p) ?? null
    if (blocked) return null
    return this.loadDisk(p)
  }

  async kind(p: string): Promise<ViewKind> {
    this.checkName(p)
    const blocked = await this.checkAncestors(p)
    if (this.planned.get(p)) return 'file'
    if (this.hasPlannedChild(p)) return 'dir'
    if (blocked) return 'none'
    const disk = await this.diskKind(p)
    if (disk === 'dir') return 'dir'
    if (this.planned.has(p) || disk === 'none') return 'none'
    return 'file'
  }

  /** Plans `p` to hold `state`. The path must be creatable: no file in the way, no directory there. */
  async write(p: string, state: FileState): Promise<void> {
    this.checkName(p)
    if (await this.checkAncestors(p)) {
      throw new RejectError('FILE_EXISTS', `a parent of ${p} is a file`, { path: p })
    }
    if ((await this.kind(p)) === 'dir') throw new RejectError('FILE_EXISTS', `${p} is a directory`, { path: p })
    if (state.mode === MODE_SYMLINK) await this.checkNewSymlink(p, state.contents)
    this.budget.record(p, state.contents.length)
    await this.loadDisk(p)
    this.planned.set(p, state)
  }

  /** Plans `p` to be absent; callers have already established that it is a file. */
  async remove(p: string): Promise<void> {
    this.checkName(p)
    await this.loadDisk(p)
    this.budget.record(p, 0)
    this.planned.set(p, null)
  }

  /** Net changes against disk: removals first (deepest first), then writes in path order. */
  changes(): FileChange[] {
    const out: FileChange[] = []
    for (const [p, after] of this.planned) {
      const before = this.disk.get(p) ?? null
      if (!sameState(before, after)) out.push({ path: p, before, after })
    }
    const byPath = (a: FileChange, b: FileChange) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
    const removals = out.filter((c) => c.after === null).sort(byPath).reverse()
    const writes = out.filter((c) => c.after !== null).sort(byPath)
    return [...removals, ...writes]
  }

  private checkName(p: string): void {
    const reason = checkRelativePath(p)
    if (reason !== null) throw outside(p, reason)
  }

  /**
   * Refuses a path that goes through a symlink, on disk or planned earlier in this patch, and
   * reports whether a regular file sits where a directory would have to be.
   */
  private async checkAncestors(p: string): Promise<boolean> {
    const segments = p.split('/')
    let diskExists = true
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/')
      const planned = this.planned.get(dir)
      if (planned) {
        if (planned.mode === MODE_SYMLINK) throw outside(p, `path traverses a symlink planned by this patch (${dir})`)
        return true
      }
      if (!diskExists) continue
      const kind = await this.diskKind(dir)
      if (kind === 'symlink') throw outside(p, `path traverses a symlink (${dir})`)
      if (kind === 'other') throw outside(p, `path traverses a special file (${dir})`)
      if (kind === 'none') diskExists = false
      else if (kind === 'file') {
        // A file removed earlier in the patch frees its name for a directory.
        if (!this.planned.has(dir)) return true
        diskExists = false
      }
    }
    return false
  }

  private async checkNewSymlink(p: string, contents: Buffer): Promise<void> {
    const target = contents.toString('utf8')
    const reason = checkSymlinkTarget(p, target)
    if (reason !== null) throw outside(p, reason)
    // The destination must itself be reachable without symlinks, and must not be one: a chain
    // could lead anywhere a pre-existing link does.
    const dest = symlinkDestination(p, target)
    if (await this.checkAncestors(dest)) return
    const destState = this.planned.has(dest) ? this.planned.get(dest) : await this.loadDisk(dest)
    if (destState?.mode === MODE_SYMLINK) throw outside(p, `symlink target is itself a symlink: ${target}`)
  }

  private hasPlannedChild(dir: string): boolean {
    const prefix = `${dir}/`
    for (const [p, state] of this.planned) if (state !== null && p.startsWith(prefix)) return true
    return false
  }

  private abs(p: string): string {
    return path.join(this.realRoot, ...p.split('/'))
  }

  private async diskKind(p: string): Promise<DiskKind> {
    const known = this.kinds.get(p)
    if (known !== undefined) return known
    let kind: DiskKind
    try {
      const st = await lstat(this.abs(p))
      kind = st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'other'
    } catch (err) {
      if (!isMissing(err)) throw err
      kind = 'none'
    }
    this.kinds.set(p, kind)
    return kind
  }

  /** Disk state of `p`; only called once its ancestors are known to be real directories. */
  private async loadDisk(p: string): Promise<FileState | null> {
    if (this.disk.has(p)) return this.disk.get(p) ?? null
    const kind = await this.diskKind(p)
    if (kind === 'other') throw outside(p, 'not a regular file or symlink')
    let state: FileState | null = null
    const abs = this.abs(p)
    if (kind === 'symlink') {
      state = { contents: await readlink(abs, { encoding: 'buffer' }), mode: MODE_SYMLINK }
    } else if (kind === 'file') {
      const [contents, st] = await Promise.all([readFile(abs), lstat(abs)])
      state = { contents, mode: st.mode & 0o100 ? MODE_EXEC : MODE_FILE }
    }
    this.disk.set(p, state)
    return state
  }
}
