import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import type { WorkspaceConfig } from '../../config.js'
import { git, gitMaybe, type GitRepo } from './git.js'
import { PatchFailure, type BlockCode } from '../failure.js'

export interface PrepareOptions {
  /** The service's data directory: a missing workspace below it is created (the default workspace). */
  dataDir: string
}

const inside = (parent: string, child: string): boolean => {
  const rel = path.relative(path.resolve(parent), path.resolve(child))
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)
}

/** An existing directory with nothing in it (false for a file, so the checks below can say so). */
async function isEmptyDirectory(p: string): Promise<boolean> {
  return (await stat(p)).isDirectory() && (await readdir(p)).length === 0
}

/** A clone of a large repository over a slow link takes a while, but not forever. */
const CLONE_TIMEOUT_MS = 15 * 60_000

/**
 * Clones the workspace's remote into its (missing or empty) path and checks out the configured
 * branch, so a runner on a new machine needs nothing done by hand. The clone is made beside the
 * path and renamed into place when complete: a clone cut short (timeout, crash) never leaves a
 * half-made repository at the path for the next start to mistake for the workspace. An empty
 * remote, or one without the branch, leaves the branch unborn: the first patch's push creates it.
 */
async function cloneWorkspace(ws: WorkspaceConfig & { remote: string }): Promise<void> {
  const root = path.resolve(ws.path)
  const parent = path.dirname(root)
  await mkdir(parent, { recursive: true })
  const temp = path.join(parent, `.${path.basename(root)}.clone-${randomBytes(4).toString('hex')}`)
  try {
    await git(['clone', '-q', '--no-checkout', '--origin', 'origin', '--', ws.remote, temp], { cwd: parent, remote: true, timeoutMs: CLONE_TIMEOUT_MS })
    const repo = { root: temp, gitDir: path.join(temp, '.git') }
    await git(['symbolic-ref', 'HEAD', `refs/heads/${ws.branch}`], { repo })
    const fetched = await gitMaybe(['rev-parse', '--verify', '-q', `refs/remotes/origin/${ws.branch}^{commit}`], { repo })
    if (fetched !== null) await git(['reset', '-q', '--hard', fetched.trim()], { repo })
    // Replaces the path only while it is still missing or an empty directory.
    await rename(temp, root).catch(async (err: NodeJS.ErrnoException) => {
      // Another process sharing the path cloned it first: its clone is the workspace now.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err
      await rm(temp, { recursive: true, force: true })
    })
  } catch (err) {
    await rm(temp, { recursive: true, force: true }).catch(() => {})
    throw new PatchFailure('failed', 'WORKSPACE_UNAVAILABLE', `could not clone the workspace's remote into ${root}`, { detail: String(err) })
  }
}

/**
 * A workspace as the runner works on it: its configuration with `path` set to the real top-level
 * directory git reported (checks run there, not at a symlink or relative path the operator
 * configured), and the repository git is given. Made only by `located`, so the two never disagree.
 */
export interface LocatedWorkspace {
  readonly ws: WorkspaceConfig
  readonly repo: GitRepo
}

export const located = (ws: WorkspaceConfig, repo: GitRepo): LocatedWorkspace => ({ ws: { ...ws, path: repo.root }, repo })

/**
 * Workspaces git has located, by configured path. Only a plain `.git` directory at the top is
 * remembered (not a gitfile of a worktree or submodule), because then a few stats prove that git,
 * started in the same directory, finds the same repository: it looks at `.git` there first and
 * takes it when HEAD, objects and refs are in it.
 */
const locateCache = new Map<string, GitRepo>()

async function stillLocated(root: string, known: GitRepo): Promise<boolean> {
  try {
    const [real, dotGit, head, objects, refs] = await Promise.all([
      realpath(root),
      stat(known.gitDir),
      stat(path.join(known.gitDir, 'HEAD')),
      stat(path.join(known.gitDir, 'objects')),
      stat(path.join(known.gitDir, 'refs')),
    ])
    return real === known.root && (await realpath(path.join(real, '.git'))) === known.gitDir && dotGit.isDirectory() && head.isFile() && objects.isDirectory() && refs.isDirectory()
  } catch {
    return false
  }
}

/**
 * Makes sure the workspace exists and is the top of its own git repository. A missing path or
 * an empty directory is cloned from the workspace's remote when it has one; otherwise, under
 * the data dir, created with an empty first commit. One git process the first time, stats after
 * that: the runner pays this per patch.
 *
 * The only place git looks for a repository, and only at the path the operator configured:
 * every other call is given the git dir and work tree found here.
 */
export async function locateWorkspace(ws: WorkspaceConfig, opts: PrepareOptions): Promise<GitRepo> {
  const root = ws.path
  const creatable = inside(opts.dataDir, root)
  const { remote } = ws
  if (remote !== undefined && (!existsSync(root) || (await isEmptyDirectory(root)))) {
    await cloneWorkspace({ ...ws, remote })
  } else if (!existsSync(root) || (creatable && (await isEmptyDirectory(root)))) {
    if (!creatable) throw new PatchFailure('failed', 'WORKSPACE_UNAVAILABLE', `workspace directory does not exist: ${root}`)
    await mkdir(root, { recursive: true })
    await git(['init', '-q', '-b', ws.branch], { cwd: root })
    const real = await realpath(root)
    await git(['commit', '-q', '--allow-empty', '-m', 'Initial commit'], { repo: { root: real, gitDir: path.join(real, '.git') }, identity: ws.author })
  }
  if (!(await stat(root)).isDirectory()) throw new PatchFailure('failed', 'WORKSPACE_UNAVAILABLE', `workspace path is not a directory: ${root}`)
  const known = locateCache.get(root)
  if (known !== undefined && (await stillLocated(root, known))) return known
  locateCache.delete(root)
  const out = await gitMaybe(['rev-parse', '--show-toplevel', '--absolute-git-dir'], { cwd: root })
  const [top, gitDir] = out === null ? [] : out.replace(/\n$/, '').split('\n')
  if (!top || !gitDir) throw new PatchFailure('failed', 'WORKSPACE_UNAVAILABLE', `workspace is not a git repository: ${root}`)
  const real = await realpath(root)
  // A workspace nested in another repository's subdirectory would commit into that repository.
  if (path.resolve(top) !== real) {
    throw new PatchFailure('failed', 'WORKSPACE_UNAVAILABLE', `workspace is not the top of its git repository (${top}): ${root}`)
  }
  const found = { root: real, gitDir }
  if (path.join(real, '.git') === gitDir) locateCache.set(root, found)
  return found
}

/**
 * Makes the workspace usable: it exists and is a repository (see locateWorkspace) and HEAD is
 * on the configured branch. Only a clean tree is switched; a dirty one is left for the dirty
 * check to refuse.
 */
export async function prepareWorkspace(ws: WorkspaceConfig, opts: PrepareOptions): Promise<GitRepo> {
  const repo = await locateWorkspace(ws, opts)
  await inspectWorkspace(ws, repo, { switchBranch: true })
  return repo
}

/** The commit the branch points at, or null while it is unborn. */
export async function branchHead(repo: GitRepo, branch: string): Promise<string | null> {
  const out = await gitMaybe(['rev-parse', '--verify', '-q', `refs/heads/${branch}^{commit}`], { repo })
  return out === null ? null : out.trim()
}

/** Why the runner may not touch the workspace now, as the patch and health will show it. */
export interface WorkspaceBlock {
  code: BlockCode
  message: string
  paths: string[]
}

// Files git leaves while a multi-step operation waits for a person.
const IN_PROGRESS: Record<string, string> = {
  MERGE_HEAD: 'a merge',
  'rebase-merge': 'a rebase',
  'rebase-apply': 'a rebase or am',
  CHERRY_PICK_HEAD: 'a cherry-pick',
  REVERT_HEAD: 'a revert',
  BISECT_LOG: 'a bisect',
}

/** What one `git status` reports: the branch, its commit and every changed path. */
export interface TreeStatus {
  /** The branch HEAD is on, or null when detached. */
  branch: string | null
  /** The commit HEAD points at, or null while the branch is unborn. */
  head: string | null
  /** Staged, unstaged and untracked paths (ignored files are not changes). */
  changed: string[]
}

/** Text after the nth space: porcelain v2 puts the path after a fixed number of fields. */
const afterFields = (entry: string, n: number): string => {
  let at = -1
  for (let i = 0; i < n; i++) {
    at = entry.indexOf(' ', at + 1)
    if (at < 0) return ''
  }
  return entry.slice(at + 1)
}

// Fields before the path in each kind of porcelain v2 entry: ordinary, renamed, unmerged, untracked.
const PATH_AFTER: Record<string, number> = { '1': 8, '2': 9, u: 10, '?': 1, '!': 1 }

/** One git process for branch, head and dirty check, instead of one for each. */
export async function treeStatus(repo: GitRepo): Promise<TreeStatus> {
  const out = await git(['status', '--porcelain=v2', '-z', '--branch', '--untracked-files=all', '--no-renames'], { repo })
  const status: TreeStatus = { branch: null, head: null, changed: [] }
  const entries = out.split('\0')
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    if (entry.startsWith('# branch.oid ')) {
      const oid = entry.slice('# branch.oid '.length)
      status.head = oid === '(initial)' ? null : oid
    } else if (entry.startsWith('# branch.head ')) {
      const head = entry.slice('# branch.head '.length)
      status.branch = head === '(detached)' ? null : head
    } else if (entry[1] === ' ' && entry[0]! in PATH_AFTER) {
      const p = afterFields(entry, PATH_AFTER[entry[0]!]!)
      if (p !== '') status.changed.push(p)
      // A rename entry is followed by its original path.
      if (entry[0] === '2' && entries[i + 1]) status.changed.push(entries[++i]!)
    }
  }
  return status
}

/** The workspace as the runner found it: what stands in its way, if anything, and the branch head. */
export interface Inspection {
  block: WorkspaceBlock | null
  head: string | null
}

function inProgress(gitDir: string): WorkspaceBlock | null {
  for (const [file, what] of Object.entries(IN_PROGRESS)) {
    if (existsSync(path.join(gitDir, file))) return { code: 'WORKSPACE_BUSY', message: `${what} is in progress in the workspace`, paths: [] }
  }
  return null
}

function dirtyBlock(paths: string[]): WorkspaceBlock | null {
  if (paths.length === 0) return null
  const shown = paths.slice(0, 20).join(', ') + (paths.length > 20 ? `, … (${paths.length} paths)` : '')
  return { code: 'WORKSPACE_DIRTY', message: `the workspace has uncommitted changes the runner did not make: ${shown}`, paths }
}

/**
 * Whether the runner may work in the workspace now, and the head it would build on: an
 * operation in progress or uncommitted changes mean the tree is a person's, not the runner's,
 * so their work survives. With `switchBranch`, a clean tree on another branch is switched to
 * the configured one (created when missing) instead of being refused.
 */
export async function inspectWorkspace(ws: WorkspaceConfig, repo: GitRepo, opts: { switchBranch?: boolean } = {}): Promise<Inspection> {
  const busy = inProgress(repo.gitDir)
  if (busy !== null) return { block: busy, head: null }
  let status = await treeStatus(repo)
  const dirty = dirtyBlock(status.changed)
  if (dirty !== null) return { block: dirty, head: status.head }
  if (status.branch !== ws.branch && opts.switchBranch) {
    const exists = (await gitMaybe(['rev-parse', '--verify', '-q', `refs/heads/${ws.branch}`], { repo })) !== null
    await git(exists ? ['switch', '-q', ws.branch] : ['switch', '-q', '-c', ws.branch], { repo })
    status = await treeStatus(repo)
  }
  if (status.branch !== ws.branch) {
    return { block: { code: 'WORKSPACE_WRONG_BRANCH', message: `the workspace is on ${status.branch ?? 'a detached HEAD'}, not ${ws.branch}`, paths: [] }, head: status.head }
  }
  return { block: null, head: status.head }
}

/**
 * Null when the runner may work in the workspace; otherwise what stands in the way. The runner
 * never touches a tree with changes it did not make, so a person's uncommitted work survives.
 */
export async function workspaceBlock(ws: WorkspaceConfig, repo: GitRepo): Promise<WorkspaceBlock | null> {
  return (await inspectWorkspace(ws, repo)).block
}
