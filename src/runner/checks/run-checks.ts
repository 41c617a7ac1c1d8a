import { spawn, type ChildProcess } from 'node:child_process'
import type { WorkspaceConfig } from '../../config.js'
import type { CheckResult } from '../../schemas/record.js'
import { processStartTicks } from '../process/start-ticks.js'
import { isCheckCgroup, killCgroup, refusedForks, removeCgroup, removeCgroupNow } from './sandbox/cgroup.js'
import { prepareCheck, type PreparedCheck, type SandboxOptions } from './sandbox/launch.js'
import { limitReason } from './sandbox/limits.js'

export const OUTPUT_TAIL_BYTES = 16 * 1024
const KILL_GRACE_MS = 2000
// After the check's own process exits, how long its pipes may stay open before we stop reading.
const DRAIN_MS = 2000

/** Keeps the last `limit` bytes of a stream without ever holding much more. */
export class TailBuffer {
  #chunks: Buffer[] = []
  #size = 0
  #dropped = 0
  constructor(readonly limit = OUTPUT_TAIL_BYTES) {}

  push(chunk: Buffer): void {
    this.#chunks.push(chunk)
    this.#size += chunk.length
    while (this.#chunks.length > 1 && this.#size - this.#chunks[0]!.length >= this.limit) {
      const first = this.#chunks.shift()!
      this.#size -= first.length
      this.#dropped += first.length
    }
  }

  toString(): string {
    let buf = Buffer.concat(this.#chunks)
    let dropped = this.#dropped
    if (buf.length > this.limit) {
      dropped += buf.length - this.limit
      buf = buf.subarray(buf.length - this.limit)
    }
    // Cutting may split a UTF-8 sequence: skip continuation bytes rather than show U+FFFD.
    let start = 0
    while (dropped > 0 && start < Math.min(4, buf.length) && (buf[start]! & 0xc0) === 0x80) start++
    const text = buf.subarray(start).toString('utf8')
    return dropped + start > 0 ? `[… ${dropped + start} earlier bytes omitted]\n${text}` : text
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // ESRCH: the group is already gone.
  }
}

export interface CheckProcess {
  pid: number
  start: string | null
  /** The check's pids cgroup, when it had one. */
  cgroup?: string
}

/**
 * Kills a check left running by a runner that died: its process group if that process is still
 * the same one, and whatever is left in its cgroup. A sandboxed check dies with its runner
 * anyway (bubblewrap's --die-with-parent); this covers the unsandboxed ones.
 */
export function killOrphanCheck(check: CheckProcess): boolean {
  let killed = false
  if (check.start !== null && processStartTicks(check.pid) === check.start) {
    killGroup(check.pid, 'SIGKILL')
    killed = true
  }
  if (check.cgroup !== undefined && isCheckCgroup(check.cgroup)) {
    if (!killCgroup(check.cgroup)) killed = true
    removeCgroupNow(check.cgroup)
  }
  return killed
}

export interface RunCheckOptions {
  cwd: string
  timeoutMs: number
  signal?: AbortSignal
  /** How the check is confined; the default sandbox (no network, default limits) when left out. */
  sandbox?: SandboxOptions
  tailBytes?: number
  killGraceMs?: number
  /** Told the process group as soon as it exists, so a crash journal can name it. */
  onSpawn?: (proc: CheckProcess) => void
}

export interface CheckRun extends CheckResult {
  /** Stopped because the caller aborted (lease lost, shutdown), not because the check failed. */
  aborted: boolean
  /** How it ended, in words, where the exit status alone would not say: a limit it hit, why it could not start. */
  reason: string | null
}

/**
 * What the sandbox's own tools print, alone, when they fail before the check runs: bubblewrap
 * (exit 1), prlimit unable to exec the check (126, 127), the cgroup join (125).
 */
function startFailure(exitCode: number | null, output: string): string | null {
  const m = /^(bwrap|prlimit|sh): ([^\n]*)\n?$/.exec(output)
  if (m === null) return null
  const [, tool, message] = m
  const expected = tool === 'bwrap' ? [1] : tool === 'prlimit' ? [126, 127] : [125]
  return exitCode !== null && expected.includes(exitCode) ? `${tool}: ${message}` : null
}

/**
 * Runs one check: argv as given (no shell), in the workspace, sandboxed unless told otherwise,
 * only the output's tail kept. A timeout or an abort kills everything the check started.
 */
export async function runCheck(name: string, argv: readonly string[], opts: RunCheckOptions): Promise<CheckRun> {
  const started = performance.now()
  const ended = (note: string, reason: string | null): CheckRun => ({
    name,
    argv: [...argv],
    exit_code: null,
    signal: null,
    timed_out: false,
    duration_ms: Math.round(performance.now() - started),
    output_tail: note,
    aborted: false,
    reason,
  })
  if (argv.length === 0) return ended('check has an empty argv\n', null)
  let prepared: PreparedCheck | { problem: string }
  try {
    prepared = await prepareCheck(argv, opts.cwd, opts.sandbox)
  } catch (err) {
    prepared = { problem: (err as Error).message }
  }
  if ('problem' in prepared) return ended(`[check could not start: ${prepared.problem}]\n`, `could not start: ${prepared.problem}`)
  return spawnCheck(name, argv, prepared, opts, started)
}

/** How a spawned check ended, before its output is read for why. */
interface CheckEnd {
  exitCode: number | null
  signal: string | null
  /** Appended to the output tail: why it could not start. */
  note?: string | undefined
  timedOut: boolean
  aborted: boolean
}

/**
 * The run of a check that ended, its cgroup removed. A sandboxed check's output also says whether
 * the sandbox's own tools failed to start it, or which limit it hit.
 */
async function endRun(name: string, argv: readonly string[], prepared: PreparedCheck, tail: TailBuffer, end: CheckEnd, started: number): Promise<CheckRun> {
  const { cgroup, limits } = prepared
  const refused = cgroup === null ? 0 : refusedForks(cgroup)
  if (cgroup !== null) await removeCgroup(cgroup)
  const output = tail.toString()
  let { exitCode, note } = end
  let reason: string | null = null
  const failedToStart = limits !== null ? startFailure(exitCode, output) : null
  if (failedToStart !== null) {
    reason = `could not start: ${failedToStart}`
    exitCode = null
    note = `[check could not start]\n`
  } else if (limits !== null && !end.timedOut && !end.aborted) {
    reason = limitReason({ exitCode, signal: end.signal, output, refusedForks: refused }, limits)
  }
  if (note) tail.push(Buffer.from(note))
  return {
    name,
    argv: [...argv],
    exit_code: exitCode,
    signal: end.signal,
    timed_out: end.timedOut,
    duration_ms: Math.round(performance.now() - started),
    output_tail: tail.toString(),
    aborted: end.aborted,
    reason,
  }
}

/**
 * How a running check is stopped. Nothing inside a sandbox could be told to stop gracefully: its
 * bubblewrap dies, and its PID namespace with it. Unsandboxed, the group gets SIGTERM and a grace
 * period first.
 */
function checkStopper(child: ChildProcess, cgroup: string | null, sandboxed: boolean, graceMs: number, timers: NodeJS.Timeout[]) {
  const killAll = () => {
    if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL')
    if (cgroup !== null) killCgroup(cgroup)
  }
  const stop = () => {
    if (child.pid === undefined) return
    if (sandboxed) return killAll()
    const pid = child.pid
    killGroup(pid, 'SIGTERM')
    const t = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs)
    t.unref()
    timers.push(t)
  }
  return { killAll, stop }
}

function spawnCheck(name: string, argv: readonly string[], prepared: PreparedCheck, opts: RunCheckOptions, started: number): Promise<CheckRun> {
  const tail = new TailBuffer(opts.tailBytes)
  const { cgroup } = prepared
  return new Promise((resolve) => {
    const state = { timedOut: false, aborted: false, settled: false }
    const timers: NodeJS.Timeout[] = []
    const finish = async (exitCode: number | null, signal: string | null, note?: string) => {
      if (state.settled) return
      state.settled = true
      for (const t of timers) clearTimeout(t)
      opts.signal?.removeEventListener('abort', onAbort)
      resolve(await endRun(name, argv, prepared, tail, { exitCode, signal, note, timedOut: state.timedOut, aborted: state.aborted }, started))
    }

    const child = spawn(prepared.command, prepared.args, {
      cwd: opts.cwd,
      env: prepared.env,
      shell: false,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    })
    const { killAll, stop } = checkStopper(child, cgroup, prepared.limits !== null, opts.killGraceMs ?? KILL_GRACE_MS, timers)
    const onAbort = () => {
      state.aborted = true
      stop()
    }
    child.stdout.on('data', (d: Buffer) => tail.push(d))
    child.stderr.on('data', (d: Buffer) => tail.push(d))
    child.on('error', (err) => void finish(null, null, `\n[check could not start: ${err.message}]\n`))
    if (child.pid !== undefined) opts.onSpawn?.({ pid: child.pid, start: processStartTicks(child.pid), ...(cgroup !== null && { cgroup }) })

    const timer = setTimeout(() => {
      state.timedOut = true
      stop()
    }, opts.timeoutMs)
    timer.unref()
    timers.push(timer)
    if (opts.signal?.aborted) onAbort()
    else opts.signal?.addEventListener('abort', onAbort, { once: true })

    child.on('exit', (code, signal) => {
      // Whatever the check left running goes with it; then read what remains.
      killAll()
      const drained = setTimeout(() => {
        child.stdout.destroy()
        child.stderr.destroy()
        void finish(code, signal)
      }, DRAIN_MS)
      drained.unref()
      timers.push(drained)
      child.on('close', () => void finish(code, signal))
    })
  })
}

/** How a check that did not pass ended, in words, after `check "<name>"`. */
export function describeCheckEnd(run: CheckRun): string {
  if (run.timed_out) return `timed out after ${run.duration_ms} ms and was killed${run.signal ? ` by ${run.signal}` : ''} with every process it started`
  if (run.reason !== null) return run.reason
  if (run.exit_code === null) return run.signal ? `was killed by ${run.signal}` : 'could not start'
  return `exited with code ${run.exit_code}`
}

export interface ChecksOutcome {
  results: CheckRun[]
  /** The first check that did not pass; later ones were not run. */
  failed: CheckRun | null
  aborted: boolean
}

/** Runs the named checks in order, stopping at the first that fails. Names must be in ws.checks. */
export async function runChecks(ws: WorkspaceConfig, names: readonly string[], opts: Omit<RunCheckOptions, 'cwd' | 'timeoutMs'>): Promise<ChecksOutcome> {
  const results: CheckRun[] = []
  for (const name of names) {
    const argv = ws.checks[name]
    if (argv === undefined) throw new Error(`check "${name}" is not allowed in this workspace`)
    const run = await runCheck(name, argv, { ...opts, cwd: ws.path, timeoutMs: ws.checkTimeoutMs })
    results.push(run)
    if (run.aborted) return { results, failed: null, aborted: true }
    if (run.exit_code !== 0) return { results, failed: run, aborted: false }
  }
  return { results, failed: null, aborted: false }
}

/** The record keeps check results without the runner-internal fields. */
export const toCheckResult = ({ aborted: _aborted, reason: _reason, ...result }: CheckRun): CheckResult => result
