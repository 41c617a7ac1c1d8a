import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Value } from '@sinclair/typebox/value'
import { ProbeOutcome } from '../schemas/health.js'
import type { Probe, RunResult } from './probe.js'

const validOutcome = TypeCompiler.Compile(ProbeOutcome)

/** A legacy value, where an outcome has one, must be what its probe's place in the body takes. */
const fitsPlace = (probe: Probe, outcome: ProbeOutcome) =>
  outcome.legacy === undefined || (probe.place !== undefined && Value.Check(probe.place.type, outcome.legacy))

interface Task {
  probe: Probe
  timer: NodeJS.Timeout | null
  /** Set while a check has not settled, even after its timeout: one run of a probe at a time. */
  inFlight: AbortController | null
}

export interface SchedulerOptions {
  onResult(name: string, result: RunResult): void
  /** A check still hanging at its next due time; its probe runs again once it settles. */
  onSkip?(name: string): void
  now?: () => number
}

/**
 * Runs every probe on its own interval, all concurrently, each with its timeout. A run that
 * throws, resolves to something that is not a ProbeOutcome, or outlives its timeout is reported
 * `unknown` (the timeout aborts the check's signal). A probe never overlaps itself: a check that
 * ignores its signal holds back that probe's next run until it settles, so its result ages and
 * turns stale instead of piling up concurrent runs.
 */
export class Scheduler {
  readonly #tasks = new Map<string, Task>()
  readonly #opts: SchedulerOptions
  readonly #now: () => number
  #running = false

  constructor(opts: SchedulerOptions) {
    this.#opts = opts
    this.#now = opts.now ?? Date.now
  }

  get running() {
    return this.#running
  }

  /** Adds a probe; once started, it runs at once. */
  add(probe: Probe) {
    const task: Task = { probe, timer: null, inFlight: null }
    this.#tasks.set(probe.name, task)
    if (this.#running) this.#run(task)
  }

  /** Starts the first round: every probe at once. */
  start() {
    if (this.#running) return
    this.#running = true
    for (const task of this.#tasks.values()) this.#run(task)
  }

  /** Clears every timer and aborts the checks in flight; their late results are dropped. */
  stop() {
    this.#running = false
    for (const task of this.#tasks.values()) {
      if (task.timer) clearTimeout(task.timer)
      task.timer = null
      task.inFlight?.abort(new Error('health scheduler stopped'))
    }
  }

  #run(task: Task) {
    task.timer = null
    if (!this.#running) return
    if (task.inFlight) {
      this.#opts.onSkip?.(task.probe.name)
      return
    }
    const { probe } = task
    const controller = new AbortController()
    task.inFlight = controller
    const startedAt = this.#now()
    let settled = false
    const report = (result: Omit<RunResult, 'startedAt' | 'finishedAt' | 'durationMs'>) => {
      if (settled) return
      settled = true
      clearTimeout(timeout)
      if (!this.#running) return
      const finishedAt = this.#now()
      this.#opts.onResult(probe.name, { ...result, startedAt, finishedAt, durationMs: finishedAt - startedAt })
    }
    const timeout = setTimeout(() => {
      controller.abort(new Error(`timed out after ${probe.timeoutMs} ms`))
      report({ status: 'unknown', error: `timed out after ${probe.timeoutMs} ms` })
    }, probe.timeoutMs)
    timeout.unref()

    // Called through a promise so that a check throwing synchronously is caught like a rejection.
    Promise.resolve()
      .then(() => probe.check(controller.signal))
      .then(
        (outcome) => {
          if (validOutcome.Check(outcome) && fitsPlace(probe, outcome)) report({ status: outcome.status, outcome })
          else if (validOutcome.Check(outcome)) report({ status: 'unknown', error: `check resolved to a legacy value that ${probe.place ? `${probe.place.key} does not take` : 'has no place'}` })
          else report({ status: 'unknown', error: `check resolved to an invalid outcome: ${[...validOutcome.Errors(outcome)].map((e) => `${e.path} ${e.message}`).join('; ')}` })
        },
        (err: unknown) => report({ status: 'unknown', error: `check threw: ${err instanceof Error ? err.message : String(err)}` }),
      )
      .finally(() => {
        if (task.inFlight === controller) task.inFlight = null
        this.#schedule(task, startedAt)
      })
  }

  #schedule(task: Task, lastStart: number) {
    if (!this.#running || task.timer) return
    const delay = Math.max(0, lastStart + task.probe.intervalMs - this.#now())
    task.timer = setTimeout(() => this.#run(task), delay)
    task.timer.unref()
  }
}
