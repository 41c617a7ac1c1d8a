import { lstat, mkdir, readdir, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { WorkspaceConfig } from '../../config.js'
import { spawner, type SpawnResult } from '../process/spawner.js'

const DEFAULT_TIMEOUT_MS = 60_000
const DEFAULT_MAX_BUFFER = 64 * 1024 * 1024

/**
 * A repository git works on, named by both its halves. git is handed them (GIT_DIR and
 * GIT_WORK_TREE) and never searches: nothing in the tree (a `.git` file, a planted HEAD and
 * config, a `commondir`) can send it to another repository.
 */
export interface GitRepo {
  /** The top of the work tree. */
  root: string
  /** The absolute git dir. */
  gitDir: string
}

/** Who authors and commits, from the service's configuration. */
export type Identity = WorkspaceConfig['author']

/**
 * What a call to a remote (clone, fetch, push) takes from the service's environment, and no
 * other call does: the real HOME (ssh's keys and known hosts, ~/.git-credentials, ~/.netrc), the
 * ssh agent and command, proxies and CA bundles. Documented in the README under Configuration.
 */
export const REMOTE_PASSED_THROUGH = [
  'HOME',
  'SSH_AUTH_SOCK',
  'GIT_SSH',
  'GIT_SSH_COMMAND',
  'GIT_SSL_CAINFO',
  'GIT_SSL_CAPATH',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'http_proxy',
  'https_proxy',
  'HTTPS_PROXY',
  'all_proxy',
  'ALL_PROXY',
  'no_proxy',
  'NO_PROXY',
] as const

export type GitOptions = (
  | {
      /** The repository to work on: git gets its git dir and work tree, and runs in the work tree. */
      repo: GitRepo
      cwd?: undefined
    }
  | {
      /** Where git runs when there is no located repository (clone, init, locating one). */
      cwd: string
      repo?: undefined
    }
) & {
  timeoutMs?: number
  /** Written to stdin (commit messages, NUL-separated pathspecs). */
  input?: string | Buffer
  maxBuffer?: number
  /** Given to calls that write commits or tags: author and committer. */
  identity?: Identity
  /** The call talks to a remote: it also gets REMOTE_PASSED_THROUGH. */
  remote?: boolean
}

/**
 * Directories the service owns for git, one pair per user: an empty HOME (git still looks in
 * it for ~/.config/git/ignore) and an empty hooks directory. The parent is made
 * private and checked to be this user's before every call: in a shared temp directory someone
 * else could otherwise create it first, or again after a temp cleaner removed it.
 */
const PRIVATE = path.join(os.tmpdir(), `ghost-runner-git-${process.getuid?.() ?? 'user'}`)
const HOME = path.join(PRIVATE, 'home')
const HOOKS = path.join(PRIVATE, 'hooks')
let emptied: Promise<void> | null = null

const unlessExists = (err: unknown) => {
  if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
}

/** Once per process: both directories exist, and whatever was left in them is gone. */
async function emptyDirs(): Promise<void> {
  for (const dir of [HOME, HOOKS]) {
    await mkdir(dir, { mode: 0o700 }).catch(unlessExists)
    if ((await readdir(dir)).length > 0) {
      await rm(dir, { recursive: true, force: true })
      await mkdir(dir, { mode: 0o700 }).catch(unlessExists)
    }
  }
}

async function privateDirs(): Promise<void> {
  let st = await lstat(PRIVATE).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null
    throw err
  })
  if (st === null) {
    await mkdir(PRIVATE, { mode: 0o700 }).catch(unlessExists)
    st = await lstat(PRIVATE)
    emptied = null
  }
  if (!st.isDirectory() || (process.getuid !== undefined && st.uid !== process.getuid()) || (st.mode & 0o077) !== 0) {
    throw new Error(`${PRIVATE} is not a directory private to this user; remove it so git can run`)
  }
  emptied ??= emptyDirs().catch((err: unknown) => {
    emptied = null
    throw err
  })
  await emptied
}

/**
 * Set on every call, above any configuration: a bare repository is used only when named (never
 * discovered), no hooks, no fsmonitor command, no attributes file outside the repository, no
 * submodule recursion (a patch can write .gitmodules), no signing prompts, paths quoted never.
 */
const OVERRIDES = [
  'safe.bareRepository=explicit',
  `core.hooksPath=${HOOKS}`,
  'core.fsmonitor=false',
  `core.attributesFile=${os.devNull}`,
  'submodule.recurse=false',
  'fetch.recurseSubmodules=false',
  'push.recurseSubmodules=no',
  'commit.gpgSign=false',
  'tag.gpgSign=false',
  'core.quotePath=false',
  'advice.detachedHead=false',
].flatMap((setting) => ['-c', setting])

/**
 * The environment of a git call, built from nothing: nothing of the service's own (tokens,
 * secrets, database URL, GIT_* variables naming another repository or config) reaches git or
 * anything git starts. No system or global configuration: only the repository's own.
 */
function gitEnv(opts: Pick<GitOptions, 'repo' | 'identity' | 'remote'> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME,
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: os.devNull,
    GIT_TERMINAL_PROMPT: '0',
    GIT_OPTIONAL_LOCKS: '0',
  }
  if (opts.remote) {
    for (const name of REMOTE_PASSED_THROUGH) {
      const value = process.env[name]
      if (value !== undefined) env[name] = value
    }
  }
  if (opts.repo) {
    env.GIT_DIR = opts.repo.gitDir
    env.GIT_WORK_TREE = opts.repo.root
  }
  if (opts.identity) {
    env.GIT_AUTHOR_NAME = env.GIT_COMMITTER_NAME = opts.identity.name
    env.GIT_AUTHOR_EMAIL = env.GIT_COMMITTER_EMAIL = opts.identity.email
  }
  return env
}

export class GitError extends Error {
  override readonly name = 'GitError'
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    why: string,
  ) {
    super(`git ${args[0] ?? ''} ${why}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`)
  }
}

/**
 * Runs git with an argv array (never a shell) and resolves to how it ended, whatever that was:
 * for callers such as `git apply` whose failures are the input's, not the runner's.
 */
export async function runGit(args: readonly string[], opts: GitOptions): Promise<SpawnResult> {
  await privateDirs()
  return spawner.run({
    file: 'git',
    args: [...OVERRIDES, ...args],
    cwd: opts.repo !== undefined ? opts.repo.root : opts.cwd,
    env: gitEnv(opts),
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxBuffer: opts.maxBuffer ?? DEFAULT_MAX_BUFFER,
  })
}

/** Runs git with an argv array (never a shell) and resolves to its stdout. */
export async function git(args: readonly string[], opts: GitOptions): Promise<string> {
  const res = await runGit(args, opts)
  if (res.exitCode === 0 && res.error === null) return res.stdout.toString('utf8')
  const why = res.killed ? 'timed out' : res.exitCode !== null ? `exited with code ${res.exitCode}` : (res.error ?? 'failed')
  throw new GitError(args, res.exitCode, res.stderr.toString('utf8'), why)
}

/** Like git(), but a non-zero exit resolves to null instead of throwing (probes such as rev-parse). */
export async function gitMaybe(args: readonly string[], opts: GitOptions): Promise<string | null> {
  try {
    return await git(args, opts)
  } catch (err) {
    if (err instanceof GitError && err.exitCode !== null) return null
    throw err
  }
}

/** NUL-separated pathspecs for `--pathspec-from-file=- --pathspec-file-nul`, so no path is ever an argument. */
export const pathspecInput = (paths: readonly string[]): string => paths.map((p) => `${p}\0`).join('')
