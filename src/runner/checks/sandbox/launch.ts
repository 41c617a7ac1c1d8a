import { realpath } from 'node:fs/promises'
import { Value } from '@sinclair/typebox/value'
import { CheckLimits } from '../../../config.js'
import { makeCheckCgroup } from './cgroup.js'
import { resolveHidden } from './hidden.js'
import { prlimitArgv, SANDBOX_TASKS } from './limits.js'
import { bwrapArgv, SANDBOX_HOME } from './mounts.js'
import { privateDirs, sandboxSupport } from './support.js'

/** How a check is confined. Left out, a check gets the default sandbox: no network, default limits. */
export interface SandboxOptions {
  /** none: the check runs as the service itself, with its privileges; only the environment is scrubbed. */
  mode?: 'bwrap' | 'none'
  network?: boolean
  /** Variables on top of the allowlist (PATH, HOME, LANG, LC_ALL, TMPDIR); they may override it. */
  env?: Readonly<Record<string, string>>
  limits?: Partial<CheckLimits>
  /** The workspace's git dir, shown read-only. */
  gitDir?: string | null
  /** Paths to hide besides HOME, the run-time directories and what the host scan found. */
  hide?: readonly string[]
}

/** A check ready to spawn: argv for spawn() and what its end is judged by. */
export interface PreparedCheck {
  command: string
  args: string[]
  env: NodeJS.ProcessEnv
  /** The check's pids cgroup, to count refused forks and kill what is left; null without one. */
  cgroup: string | null
  /** null: unsandboxed. */
  limits: CheckLimits | null
}

const CHECK_NICENESS = 10

/** Only these of the service's variables reach a check; tokens, DATABASE_URL and the rest stay out. */
const PASSED_VARS = ['PATH', 'LANG', 'LC_ALL'] as const

function passed(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of PASSED_VARS) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  return env
}

// Joins the check's cgroup before bubblewrap starts, so nothing it forks escapes the count. The
// cgroup and the argv are positional parameters: nothing is ever interpolated into the script.
const JOIN_CGROUP = 'echo $$ > "$1/cgroup.procs" || exit 125; shift; exec "$@"'

/**
 * Builds the command for one check: unsandboxed (`none`, the service's HOME and a scrubbed
 * environment), or bubblewrap running util-linux prlimit running the check, in a pids cgroup
 * of its own when the host allows one. A reason (one line) when the sandbox cannot be made.
 */
export async function prepareCheck(argv: readonly string[], cwd: string, opts: SandboxOptions = {}): Promise<PreparedCheck | { problem: string }> {
  if (opts.mode === 'none') {
    const env: NodeJS.ProcessEnv = { ...passed(), ...(process.env.HOME !== undefined && { HOME: process.env.HOME }), ...opts.env }
    return { command: argv[0]!, args: argv.slice(1), env, cgroup: null, limits: null }
  }
  const support = await sandboxSupport()
  if (support.problem !== null) return { problem: support.problem }
  const limits = Value.Default(CheckLimits, { ...opts.limits }) as CheckLimits
  const workspace = await realpath(cwd)
  const gitDir = opts.gitDir ? await realpath(opts.gitDir).catch(() => null) : null
  const resolv = opts.network ? await realpath('/etc/resolv.conf').catch(() => null) : null
  const spec = {
    workspace,
    gitDir,
    hidden: [...support.hidden, ...(await resolveHidden(opts.hide ?? []))],
    reveal: resolv === null ? [] : [resolv],
    privateDirs: privateDirs(),
    tmpBytes: limits.fileSizeMb * 1024 * 1024,
    network: opts.network ?? false,
    env: { ...passed(), HOME: SANDBOX_HOME, TMPDIR: '/tmp', ...opts.env },
  }
  // Below the service's CPU priority: a check that keeps every core busy must not starve the HTTP server.
  const nice = support.nice === null ? [] : [support.nice, '-n', String(CHECK_NICENESS)]
  const inner = [...nice, ...bwrapArgv(support.bwrap, spec), ...prlimitArgv(support.prlimit, limits), ...argv]
  // bubblewrap gets no more of the environment than the check: PATH to find its tools.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
  if (support.pidsParent === null) return { command: inner[0]!, args: inner.slice(1), env, cgroup: null, limits }
  const cgroup = await makeCheckCgroup(support.pidsParent, limits.processes + SANDBOX_TASKS)
  return { command: '/bin/sh', args: ['-c', JOIN_CGROUP, 'sh', cgroup, ...inner], env, cgroup, limits }
}
