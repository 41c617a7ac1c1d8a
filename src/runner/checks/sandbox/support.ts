import { execFile } from 'node:child_process'
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Value } from '@sinclair/typebox/value'
import { CheckLimits } from '../../../config.js'
import { findPidsParent } from './cgroup.js'
import { alwaysHidden, resolveHidden, scanPrivate } from './hidden.js'
import { prlimitArgv } from './limits.js'
import { bwrapArgv, SANDBOX_HOME, type HiddenPath } from './mounts.js'

/** What this host offers the sandbox, found once per process. */
export interface SandboxSupport {
  /** Why checks cannot be sandboxed here, in one line; null when they can. */
  problem: string | null
  bwrap: string
  prlimit: string
  /** coreutils nice, to run checks below the service's CPU priority; null where missing. */
  nice: string | null
  /** Where a check's pids cgroup is made; null when no cgroup hierarchy lets this process. */
  pidsParent: string | null
  /** What enforces the process limit: a pids cgroup, RLIMIT_NPROC (a service that is not root), or nothing. */
  processLimit: 'cgroup' | 'rlimit' | null
  /** Files holding secrets the scan found (see scanPrivate), plus HOME and the run-time directories. */
  hidden: HiddenPath[]
  /** The scan of the host stopped early: some deep files were not looked at. */
  scanTruncated: boolean
}

/** The program's absolute path on this process's PATH, or null. */
export function onPath(program: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue
    const candidate = path.join(dir, program)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return null
}

/** The private temporary directories this host has (a bind destination must exist under a read-only root). */
export const privateDirs = (): string[] => ['/tmp', '/var/tmp'].filter((d) => existsSync(d))

const run = (argv: string[], timeoutMs: number) =>
  new Promise<{ ok: boolean; output: string }>((resolve) => {
    execFile(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({ ok: err === null, output: `${stderr}${stdout}`.trim() || (err?.message ?? '') })
    })
  })

/** Starts a sandbox as a check would get it, with `true` for the check. */
async function trial(bwrap: string, prlimit: string, hidden: HiddenPath[]): Promise<string | null> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ghost-sandbox-probe-'))
  try {
    const limits = Value.Default(CheckLimits, {}) as CheckLimits
    const argv = bwrapArgv(bwrap, {
      workspace: dir,
      gitDir: null,
      hidden,
      reveal: [],
      privateDirs: privateDirs(),
      tmpBytes: 1024 * 1024,
      network: false,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: SANDBOX_HOME },
    })
    const { ok, output } = await run([...argv, ...prlimitArgv(prlimit, limits), 'true'], 10_000)
    return ok ? null : output.split('\n')[0]!.slice(0, 300)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function probe(skip: readonly string[]): Promise<SandboxSupport> {
  const bwrap = onPath('bwrap')
  const prlimit = onPath('prlimit')
  const none = { bwrap: bwrap ?? 'bwrap', prlimit: prlimit ?? 'prlimit', nice: null, pidsParent: null, processLimit: null, hidden: [], scanTruncated: false }
  if (bwrap === null) return { ...none, problem: 'bubblewrap is not installed (no bwrap on PATH): install the Debian package bubblewrap' }
  if (prlimit === null) return { ...none, problem: 'prlimit is not installed (no prlimit on PATH): install the Debian package util-linux' }
  const [scan, named, pidsParent] = await Promise.all([scanPrivate(skip), resolveHidden(alwaysHidden()), findPidsParent()])
  const hidden = [...named, ...scan.hidden]
  const failed = await trial(bwrap, prlimit, hidden)
  if (failed !== null) return { ...none, bwrap, prlimit, problem: `bubblewrap cannot make a sandbox here (${failed}): it needs the Debian package bubblewrap 0.8 or later and user namespaces (unprivileged ones for a service that is not root)` }
  const processLimit = pidsParent !== null ? 'cgroup' : process.getuid?.() !== 0 ? 'rlimit' : null
  return { problem: null, bwrap, prlimit, nice: onPath('nice'), pidsParent, processLimit, hidden, scanTruncated: scan.truncated }
}

let found: Promise<SandboxSupport> | undefined

/**
 * What the host offers, probed on first use by starting a trivial sandbox. `skip` names trees
 * the scan for secrets need not walk (the workspaces and the data directory, hidden by name).
 */
export function sandboxSupport(skip: readonly string[] = []): Promise<SandboxSupport> {
  found ??= probe(skip)
  return found
}
