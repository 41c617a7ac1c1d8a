import type { RunnerLogger } from '../logger.js'
import type { Store } from '../../store/port.js'

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError'
}

/**
 * Keeps one claimed patch's lease alive. When the store refuses the heartbeat (the lease expired
 * and someone reaped it, or a newer token exists) or cannot be reached until the lease has run
 * out, `signal` aborts: whoever works on the patch must stop, restore and record nothing.
 */
export class LeaseKeeper {
  readonly #controller = new AbortController()
  #timer: NodeJS.Timeout | undefined
  #expiresAt: number
  #beat: Promise<void> = Promise.resolve()
  /** Set once the patch's outcome is being recorded: recording it ends the lease. */
  #settled = false

  constructor(
    private readonly store: Store,
    private readonly id: string,
    private readonly token: number,
    private readonly leaseMs: number,
    expiresAt: number,
    private readonly log: RunnerLogger,
  ) {
    this.#expiresAt = expiresAt
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  get lost(): boolean {
    return this.#controller.signal.aborted
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => {
      this.#beat = this.#beat.then(() => this.beat())
    }, intervalMs)
    this.#timer.unref()
  }

  /**
   * Says the outcome is about to be recorded. Recording ends the lease, so a heartbeat already
   * in flight (or one more before stop()) that finds it gone is expected, not a lost lease; if
   * the store refuses the outcome itself, whoever records it says so.
   */
  settle(): void {
    this.#settled = true
  }

  /** Throws LeaseLostError when the lease is gone: a checkpoint before each irreversible step. */
  check(): void {
    if (this.lost || Date.now() >= this.#expiresAt) {
      this.#lose('lease expired before the heartbeat could extend it')
      throw new LeaseLostError(`lease on ${this.id} lost`)
    }
  }

  async beat(): Promise<void> {
    if (this.lost) return
    const sentAt = Date.now()
    try {
      if (await this.store.heartbeat(this.id, this.token, this.leaseMs)) {
        this.#expiresAt = sentAt + this.leaseMs
        return
      }
      this.#lose('the store refused the heartbeat (lease reaped or superseded)')
    } catch (err) {
      if (Date.now() >= this.#expiresAt) this.#lose('the store was unreachable until the lease ran out')
      else this.log.warn({ err }, 'lease heartbeat failed; retrying')
    }
  }

  #lose(reason: string): void {
    if (this.lost) return
    if (this.#settled) this.log.debug({ reason }, 'lease ended with the recorded outcome')
    else this.log.warn({ reason }, 'lease lost: abandoning the patch')
    this.#controller.abort(new LeaseLostError(reason))
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.#beat
  }
}
