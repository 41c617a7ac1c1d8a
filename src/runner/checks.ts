import { spawn } from 'node:child_process'
import type { WorkspaceConfig } from '../config.js'
import type { CheckResult } from '../schemas/record.js'
import { processStartTicks } from './process-start.js'

export const OUTPUT_TAIL_BYTES = 16 * 1024
const KILL_GRACE_MS = 2000
// After the check's own process exits, how long its pipes may stay open before we stop reading.
const DRAIN_MS = 2000

/** Only these reach a check: anything else in the runner's environment (tokens, DATABASE_URL) stays out. */
const CHECK_ENV_VARS = ['PATH', 'HOME', 'LANG'] as const

export function checkEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const name of CHECK_ENV_VARS) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  return env
}

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
}

/** Kills a check left running by a runner that died, if that process is still the same one. */
export function killOrphanCheck(check: CheckProcess): boolean {
  if (check.start === null || processStartTicks(check.pid) !== check.start) return false
  killGroup(check.pid, 'SIGKILL')
  return true
}

export interface RunCheckOptions {
  cwd: string
  timeoutMs: number
  signal?: AbortSignal
  env?: NodeJS.ProcessEnv
  tailBytes?: number
  killGraceMs?: number
  /** Told the process group as soon as it exists, so a crash journal can name it. */
  onSpawn?: (proc: CheckProcess) => void
}

export interface CheckRun extends CheckResult {
  /** Stopped because the caller aborted (lease lost, shutdown), not because the check failed. */
  aborted: boolean
}

/**
 * Runs one check: argv as given (no shell), in its own process group so a timeout kills
 * everything it started, with a scrubbed environment and only the output's tail kept.
 */
export function runCheck(name: string, argv: readonly string[], opts: RunCheckOptions): Promise<CheckRun> {
  const started = performance.now()
  const tail = new TailBuffer(opts.tailBytes)
  const [command, ...args] = argv
  return new Promise((resolve) => {
    let timedOut = false
    let aborted = false
    let settled = false
    const timers: NodeJS.Timeout[] = []
    const finish = (exitCode: number | null, signal: string | null, note?: string) => {
      if (settled) return
      settled = true
      for (const t of timers) clearTimeout(t)
      opts.signal?.removeEventListener('abort', onAbort)
      if (note) tail.push(Buffer.from(note))
      resolve({
        name,
        argv: [...argv],
        exit_code: exitCode,
        signal,
        timed_out: timedOut,
        duration_ms: Math.round(performance.now() - started),
        output_tail: tail.toString(),
        aborted,
      })
    }
    if (command === undefined) return finish(null, null, 'check has an empty argv\n')

    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? checkEnv(),
      shell: false,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    })
    const stop = () => {
      if (child.pid === undefined) return
      const pid = child.pid
      killGroup(pid, 'SIGTERM')
      const t = setTimeout(() => killGroup(pid, 'SIGKILL'), opts.killGraceMs ?? KILL_GRACE_MS)
      t.unref()
      timers.push(t)
    }
    const onAbort = () => {
      aborted = true
      stop()
    }
    child.stdout.on('data', (d: Buffer) => tail.push(d))
    child.stderr.on('data', (d: Buffer) => tail.push(d))
    child.on('error', (err) => finish(null, null, `\n[check could not start: ${err.message}]\n`))
    if (child.pid !== undefined) opts.onSpawn?.({ pid: child.pid, start: processStartTicks(child.pid) })

    const timer = setTimeout(() => {
      timedOut = true
      stop()
    }, opts.timeoutMs)
    timer.unref()
    timers.push(timer)
    if (opts.signal?.aborted) onAbort()
    else opts.signal?.addEventListener('abort', onAbort, { once: true })

    child.on('exit', (code, signal) => {
      // Whatever the check left running in its group goes with it; then read what remains.
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL')
      const drained = setTimeout(() => {
        child.stdout.destroy()
        child.stderr.destroy()
        finish(code, signal)
      }, DRAIN_MS)
      drained.unref()
      timers.push(drained)
      child.on('close', () => finish(code, signal))
    })
  })
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

/** The record keeps check results without the runner-internal flag. */
export const toCheckResult = ({ aborted: _aborted, ...result }: CheckRun): CheckResult => result
