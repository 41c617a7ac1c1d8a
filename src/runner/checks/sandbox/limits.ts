import type { CheckLimits } from '../../../config.js'

const MB = 1024 * 1024
/** CPU seconds between the SIGXCPU of the soft limit and the SIGKILL of the hard one. */
const CPU_GRACE_S = 5
/** Tasks of the sandbox itself in the check's cgroup: bubblewrap outside and its init inside. */
export const SANDBOX_TASKS = 2

/**
 * util-linux prlimit, run inside the sandbox, sets the check's resource limits and then execs
 * it: the limits bind the check and everything it starts, never bubblewrap itself.
 */
export function prlimitArgv(prlimit: string, limits: CheckLimits): string[] {
  return [
    prlimit,
    `--cpu=${limits.cpuSeconds}:${limits.cpuSeconds + CPU_GRACE_S}`,
    `--as=${limits.memoryMb * MB}`,
    `--fsize=${limits.fileSizeMb * MB}`,
    `--nofile=${limits.openFiles}`,
    // Binds a service that is not root; for root only the cgroup counts.
    `--nproc=${limits.processes}`,
    '--',
  ]
}

// 128 + the signal: how bubblewrap's init, and shells, report a child a signal killed.
const SIGXCPU_EXIT = 128 + 24
const SIGXFSZ_EXIT = 128 + 25

const CPU_TEXT = /SIGXCPU|CPU time limit exceeded/
const FSIZE_TEXT = /SIGXFSZ|File size limit exceeded|EFBIG|File too large/
const MEMORY_TEXT = /out of memory|Cannot allocate memory|ENOMEM|bad_alloc|MemoryError|allocation failed/i
const FORK_TEXT = /fork: (retry: )?Resource temporarily unavailable|spawn\S* \S+ EAGAIN|Cannot fork|can't fork/i

export interface CheckEnd {
  exitCode: number | null
  signal: string | null
  /** The tail of what the check printed. */
  output: string
  /** Forks the check's cgroup refused (0 without one). */
  refusedForks: number
}

/**
 * Which limit a failed check ran into, in words, or null when nothing says it hit one. The
 * process a limit stopped is often a grandchild (`npm test` → sh → node), so besides the exit
 * status the check's output is read for what the runtimes print when a limit bites.
 */
export function limitReason(end: CheckEnd, limits: CheckLimits): string | null {
  if (end.exitCode === 0) return null
  const { output } = end
  if (end.refusedForks > 0 || FORK_TEXT.test(output)) return `reached the limit of ${limits.processes} processes (threads count too)`
  if (end.signal === 'SIGXCPU' || end.exitCode === SIGXCPU_EXIT || CPU_TEXT.test(output)) return `exceeded its CPU time limit (${limits.cpuSeconds} s)`
  if (end.signal === 'SIGXFSZ' || end.exitCode === SIGXFSZ_EXIT || FSIZE_TEXT.test(output)) return `wrote a file larger than the ${limits.fileSizeMb} MB limit`
  if (MEMORY_TEXT.test(output)) return `ran out of memory under its limit of ${limits.memoryMb} MB of address space per process`
  return null
}
