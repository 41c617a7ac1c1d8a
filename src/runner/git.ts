import { spawner } from './spawner.js'

const DEFAULT_TIMEOUT_MS = 60_000
const DEFAULT_MAX_BUFFER = 64 * 1024 * 1024

// Variables a git child may inherit. Everything else is dropped: GIT_DIR, GIT_WORK_TREE,
// GIT_INDEX_FILE and friends in the runner's own environment would silently point git at
// another repository.
const PASSED_THROUGH = ['PATH', 'HOME', 'USER', 'TMPDIR', 'SSH_AUTH_SOCK'] as const

/**
 * Options that make the runner's git independent of whoever configured the workspace: no hooks
 * (the patch's checks are the validation), no signing prompts, no pager, paths quoted never.
 */
const CONFIG_OVERRIDES = [
  '-c', 'core.hooksPath=/dev/null',
  '-c', 'commit.gpgSign=false',
  '-c', 'tag.gpgSign=false',
  '-c', 'core.quotePath=false',
  '-c', 'advice.detachedHead=false',
]

export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const name of PASSED_THROUGH) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  return { ...env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', ...extra }
}

export interface GitOptions {
  cwd: string
  timeoutMs?: number
  /** Written to stdin (commit messages, NUL-separated pathspecs). */
  input?: string | Buffer
  env?: Record<string, string>
  maxBuffer?: number
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

/** Runs git with an argv array (never a shell) and resolves to its stdout. */
export async function git(args: readonly string[], opts: GitOptions): Promise<string> {
  const res = await spawner.run({
    file: 'git',
    args: [...CONFIG_OVERRIDES, ...args],
    cwd: opts.cwd,
    env: gitEnv(opts.env),
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxBuffer: opts.maxBuffer ?? DEFAULT_MAX_BUFFER,
  })
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
