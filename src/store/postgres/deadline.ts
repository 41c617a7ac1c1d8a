import { StoreDeadlineError } from '../errors.js'
import { storeClosed } from '../adapter/guards.js'

/** Whether an operation's deadline has passed, and with what error its caller was answered. */
export interface DeadlineState {
  aborted: boolean
  reason: unknown
}

/** An operation under the store's deadline (Operations.run). */
export interface Deadlined {
  /** Aborted once the deadline has passed: the caller has been told the operation failed. */
  state: DeadlineState
  /** Client-side limit of each query, so a frozen link gives its pooled connection back. */
  queryTimeoutMs: number
  /**
   * Set once the outcome can no longer be undone: the deadline then reports the error it makes.
   * A function, so the commits that end in time (nearly all) build no error and no stack trace.
   */
  uncertain: (() => Error) | null
}

/**
 * Runs the store's operations: none once closing, each remembered until it settles so that
 * close() can wait for it (an accepted enqueue must commit before the pool goes away), each but
 * a migration after the schema check and within the deadline.
 *
 * Past the deadline the caller gets StoreDeadlineError (a 503 at the API) whatever the database
 * link does, and each query is abandoned client-side (query_timeout) so a frozen link gives its
 * pooled connection back.
 */
export class Operations {
  private readonly inflight = new Set<Promise<unknown>>()
  private schemaChecked: Promise<void> | null = null
  private closing = false

  constructor(
    readonly deadlineMs: number,
    /** Rejects when the schema is too old for this build. */
    private readonly checkSchema: () => Promise<void>,
  ) {}

  run<T>(op: (deadline: Deadlined) => Promise<T>, opts: { migration?: boolean } = {}): Promise<T> {
    if (this.closing) return Promise.reject(storeClosed())
    // A plain flag, not an AbortController: nothing listens for the abort, the batch only looks
    // (and an enqueue under load pays for every object made here).
    const deadline: Deadlined = { state: { aborted: false, reason: undefined }, queryTimeoutMs: this.deadlineMs, uncertain: null }
    const work = opts.migration ? op(deadline) : this.ensureSchema().then(() => op(deadline))
    const settled = work.then(
      () => undefined,
      () => undefined,
    )
    this.inflight.add(settled)
    void settled.then(() => this.inflight.delete(settled))
    if (opts.migration) return work
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = deadline.uncertain?.() ?? new StoreDeadlineError(this.deadlineMs)
        deadline.state.aborted = true
        deadline.state.reason = error
        reject(error)
      }, this.deadlineMs)
      timer.unref()
      work.then(
        (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }

  // Checked once per store (not at open), so a store opened without migrating can still run
  // migrate() first; a failed check (database down) is retried by the next call.
  ensureSchema(): Promise<void> {
    if (!this.schemaChecked) {
      const check = this.checkSchema()
      this.schemaChecked = check
      check.catch(() => {
        if (this.schemaChecked === check) this.schemaChecked = null
      })
    }
    return this.schemaChecked
  }

  /** After a migration: the schema is current, no need to look. */
  migrated(): void {
    this.schemaChecked = Promise.resolve()
  }

  /** Refuses new operations; resolves once those in flight settled. */
  async close(): Promise<void> {
    this.closing = true
    await Promise.all(this.inflight)
  }
}
