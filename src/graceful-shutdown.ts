import closeWithGrace from 'close-with-grace'

/** Signals that ask for a graceful stop. */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const
type StopSignal = (typeof STOP_SIGNALS)[number]

/**
 * A stop request often arrives twice within milliseconds: a supervisor that signals the whole
 * process group reaches this process and its parent, and a parent such as npm forwards the
 * signal it got. The same signal again within this window is that one request, not a second.
 */
export const REPEAT_WINDOW_MS = 1000

interface Logger {
  info(obj: object, msg: string): void
  error(obj: object | string, msg?: string): void
}

export interface ShutdownOptions {
  /** The whole shutdown must end within this, or the process exits 1. */
  deadlineMs: number
  log: Logger
  repeatWindowMs?: number
}

/**
 * Runs `stop` once, on the first SIGTERM or SIGINT (or an uncaught error, `err` set), then exits
 * 0 when it resolves, 1 when it throws or misses the deadline. Another stop signal (a different
 * one, or the same one after the repeat window) forces the exit at once, with 1.
 */
export function onShutdown(opts: ShutdownOptions, stop: (why: { signal?: StopSignal; err?: Error }) => Promise<void>): void {
  const window = opts.repeatWindowMs ?? REPEAT_WINDOW_MS
  let first: { signal: StopSignal; at: number } | null = null
  let stopping = false
  // close-with-grace keeps the deadline, uncaught errors and the other signals; the two stop
  // signals are ours, so that a repeat can be told from a second request.
  const grace = closeWithGrace({ delay: opts.deadlineMs, logger: opts.log, skip: [...STOP_SIGNALS] }, ({ err }) => {
    stopping = true
    return stop(first ? { signal: first.signal } : { err })
  })
  const onSignal = (signal: StopSignal) => {
    if (first === null && !stopping) {
      first = { signal, at: Date.now() }
      void grace.close()
      return
    }
    if (first !== null && signal === first.signal && Date.now() - first.at < window) {
      opts.log.info({ signal }, 'the same stop signal again (delivered twice); still draining')
      return
    }
    opts.log.error(`second ${signal}, exiting`)
    process.exit(1)
  }
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal)
}
