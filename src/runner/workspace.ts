import { existsSync } from 'node:fs'
import { mkdir, readdir, realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import type { WorkspaceConfig } from '../config.js'
import { git, gitMaybe } from './git.js'
import { PatchFailure } from './failure.js'

export interface PrepareOptions {
  /** The service's data directory: a missing workspace below it is created (the default workspace). */
  dataDir: string
}

const inside = (parent: string, child: string): boolean => {
  const rel = path.relative(path.resolve(parent), path.resolve(child))
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)
}

export const authorEnv = (ws: WorkspaceConfig): Record<string, string> => ({
  GIT_AUTHOR_NAME: ws.author.name,
  GIT_AUTHOR_EMAIL: ws.author.email,
  GIT_COMMITTER_NAME: ws.author.name,
  GIT_COMMITTER_EMAIL: ws.author.email,
})

async function isEmptyDir(dir: string): Promise<boolean> {
  return (await readdir(dir)).length === 0
}

/**
 * Makes the workspace usable: the repository exists (created with an empty first commit when it
 * is a missing or empty directory under the data dir) and HEAD is on the configured branch.
 * Only a clean tree is switched; a dirty one is left for the dirty check to refuse.
 */
export async function prepareWorkspace(ws: WorkspaceConfig, opts: PrepareOptions): Promise<void> {
  const root = ws.path
  const creatable = inside(opts.dataDir, root)
  if (!existsSync(root) || (creatable && (await isEmptyDir(root)))) {
    if (!creatable) throw new PatchFailure('failed', 'WORKSPACE_UNAVAILABLE', `workspace directory does not exist: ${root}`)
    await mkdir(root, { recursive: true })
    await git(['init', '-q', '-b', ws.branch], { cwd: root })
    await git(['commit', '-q', '--allow-empty', '-m', 'Initial commit'], { cwd: root, env: authorEnv(ws) })
    return
  }
  if (!(await stat(root)).isDirectory()) throw new PatchFailure('failed', 'WORKSPACE_UNAVAILABLE', `workspace path is not a directory: ${root}`)
  const top = await gitMaybe(['rev-parse', '--show-toplevel'], { cwd: root })
  if (top === null) throw new PatchFailure('failed', 'WORKSPACE_UNAVAILABLE', `workspace is not a git repository: ${root}`)
  // A workspace nested in another repository's subdirectory would commit into that repository.
  if (path.resolve(top.trim()) !== (await realpath(root))) {
    throw new PatchFailure('failed', 'WORKSPACE_UNAVAILABLE', `workspace is not the top of its git repository (${top.trim()}): ${root}`)
  }
  const branch = await currentBranch(root)
  if (branch === ws.branch) return
  if ((await treeBlock(ws)) !== null) return
  const exists = (await gitMaybe(['rev-parse', '--verify', '-q', `refs/heads/${ws.branch}`], { cwd: root })) !== null
  await git(exists ? ['switch', '-q', ws.branch] : ['switch', '-q', '-c', ws.branch], { cwd: root })
}

/** The branch HEAD is on, or null when detached. */
export async function currentBranch(root: string): Promise<string | null> {
  const out = await gitMaybe(['symbolic-ref', '-q', '--short', 'HEAD'], { cwd: root })
  return out === null ? null : out.trim()
}

/** The commit the branch points at, or null while it is unborn. */
export async function branchHead(root: string, branch: string): Promise<string | null> {
  const out = await gitMaybe(['rev-parse', '--verify', '-q', `refs/heads/${branch}^{commit}`], { cwd: root })
  return out === null ? null : out.trim()
}

export async function absoluteGitDir(root: string): Promise<string> {
  return (await git(['rev-parse', '--absolute-git-dir'], { cwd: root })).trim()
}

/** Why the runner may not touch the workspace now, as the patch and health will show it. */
export interface WorkspaceBlock {
  code: 'WORKSPACE_DIRTY' | 'WORKSPACE_BUSY' | 'WORKSPACE_WRONG_BRANCH' | 'WORKSPACE_UNAVAILABLE' | 'RESTORE_FAILED'
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

/** Paths `git status --porcelain -z` reports: staged, unstaged and untracked (ignored files are not changes). */
export async function changedPaths(root: string): Promise<string[]> {
  const out = await git(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames'], { cwd: root })
  const paths: string[] = []
  for (const entry of out.split('\0')) if (entry.length > 3) paths.push(entry.slice(3))
  return paths
}

/**
 * Null when the runner may work in the workspace; otherwise what stands in the way. The runner
 * never touches a tree with changes it did not make, so a person's uncommitted work survives.
 */
export async function workspaceBlock(ws: WorkspaceConfig): Promise<WorkspaceBlock | null> {
  const block = await treeBlock(ws)
  if (block !== null) return block
  const branch = await currentBranch(ws.path)
  if (branch !== ws.branch) {
    return { code: 'WORKSPACE_WRONG_BRANCH', message: `the workspace is on ${branch ?? 'a detached HEAD'}, not ${ws.branch}`, paths: [] }
  }
  return null
}

/** An operation in progress or uncommitted changes: the tree is a person's, not the runner's. */
async function treeBlock(ws: WorkspaceConfig): Promise<WorkspaceBlock | null> {
  const gitDir = await absoluteGitDir(ws.path)
  for (const [file, what] of Object.entries(IN_PROGRESS)) {
    if (existsSync(path.join(gitDir, file))) {
      return { code: 'WORKSPACE_BUSY', message: `${what} is in progress in the workspace`, paths: [] }
    }
  }
  const paths = await changedPaths(ws.path)
  if (paths.length > 0) {
    const shown = paths.slice(0, 20).join(', ') + (paths.length > 20 ? `, … (${paths.length} paths)` : '')
    return { code: 'WORKSPACE_DIRTY', message: `the workspace has uncommitted changes the runner did not make: ${shown}`, paths }
  }
  return null
}
