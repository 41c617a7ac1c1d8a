import { lstatSync, realpathSync } from 'node:fs'
import path from 'node:path'
import { RejectError } from '../operations/errors.js'

// Characters HFS+ ignores when comparing names: `.g\u200cit` is `.git` there, so git refuses it too.
const HFS_IGNORABLE = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g
const NAME_MAX = 255

function isGitDirName(segment: string): boolean {
  // NTFS drops trailing dots and spaces and answers to the 8.3 alias, so `.git. ` and `GIT~1` are `.git`.
  const s = segment.replace(HFS_IGNORABLE, '').toLowerCase().replace(/[. ]+$/, '')
  return s === '.git' || s === 'git~1'
}

function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

/**
 * Why `rel` is not an acceptable workspace-relative path, or null when it is. Pure: the webhook
 * uses it at the door; the runner repeats it and then checks the real tree (resolveInside).
 */
export function checkRelativePath(rel: string): string | null {
  if (typeof rel !== 'string' || rel.length === 0) return 'path is empty'
  if (rel.includes('\0')) return 'path contains NUL'
  if (hasControlChar(rel)) return 'path contains a control character'
  if (rel.includes('\\')) return 'path contains a backslash (use / as the separator)'
  if (rel.startsWith('/')) return 'path is absolute'
  if (/^[A-Za-z]:/.test(rel)) return 'path starts with a drive letter'
  for (const segment of rel.split('/')) {
    if (segment === '') return 'path has an empty segment'
    if (segment === '.') return 'path has a "." segment'
    if (segment === '..') return 'path has a ".." segment'
    if (isGitDirName(segment)) return 'path enters .git'
    if (Buffer.byteLength(segment) > NAME_MAX) return `path segment is longer than ${NAME_MAX} bytes`
  }
  return null
}

/** Where a symlink at `linkPath` with `target` points, as a workspace-relative posix path. */
export function symlinkDestination(linkPath: string, target: string): string {
  return path.posix.normalize(path.posix.join(path.posix.dirname(linkPath), target))
}

/**
 * Why a symlink at `linkPath` may not point at `target`, or null. A link is only allowed to name
 * another workspace path, so following it can never leave the tree or reach .git.
 */
export function checkSymlinkTarget(linkPath: string, target: string): string | null {
  if (target.length === 0) return 'symlink target is empty'
  if (target.includes('\0')) return 'symlink target contains NUL'
  if (target.startsWith('/') || /^[A-Za-z]:/.test(target)) return `symlink target is absolute: ${target}`
  if (target.includes('\\')) return `symlink target contains a backslash: ${target}`
  const dest = symlinkDestination(linkPath, target)
  if (dest === '..' || dest.startsWith('../')) return `symlink target escapes the workspace: ${target}`
  if (dest === '.') return `symlink target is the workspace root: ${target}`
  const reason = checkRelativePath(dest)
  return reason === null ? null : `symlink target ${target}: ${reason}`
}

const outside = (rel: string, why: string): RejectError =>
  new RejectError('PATH_OUTSIDE_WORKSPACE', `${why}: ${rel}`, { path: rel })

const isMissing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

/**
 * The absolute path of `rel` under `root`, refusing (RejectError PATH_OUTSIDE_WORKSPACE) any path
 * that fails checkRelativePath or whose existing ancestors are not real directories inside root.
 * The last component is not followed: it may itself be a symlink, which callers must replace
 * (unlink, then write) rather than write through.
 */
export function resolveInside(root: string, rel: string): string {
  const reason = checkRelativePath(rel)
  if (reason !== null) throw outside(rel, reason)
  const realRoot = realpathSync(root)
  const segments = rel.split('/')
  let deepest = realRoot
  for (const segment of segments.slice(0, -1)) {
    const dir = path.join(deepest, segment)
    let st
    try {
      st = lstatSync(dir)
    } catch (err) {
      if (isMissing(err)) break
      throw err
    }
    if (st.isSymbolicLink()) throw outside(rel, `path traverses a symlink (${path.relative(realRoot, dir)})`)
    if (!st.isDirectory()) break
    deepest = dir
  }
  // lstat said every ancestor is a directory; realpath confirms nothing was swapped in between.
  const real = realpathSync(deepest)
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) throw outside(rel, 'path resolves outside the workspace')
  return path.join(realRoot, ...segments)
}
