import type { Store } from './port.js'

export interface PrunerOptions {
  /** Finished patches older than this go; 0 keeps everything (the pruner does nothing). */
  maxAgeMs: number
  /** Patches per transaction: short enough that an enqueue or claim never waits long behind one. */
  batch: number
  /** Pause between batches, so other work gets the store (and, on SQLite, the event loop) in between. */
  pauseMs: number
  /** How often a round starts. */
  intervalMs: number
  /** SQLite pages given back to the filesystem after each batch. */
  reclaimPages: number
  onPruned?: (n: number) => void
  onError?: (err: unknown) => void
}

// Not unref'd: a round in progress is work, and stop() waits for it.
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * Retention in the background: every interval, deletes finished patches older than maxAgeMs,
 * `batch` at a time with a pause between batches, until a batch comes back short. One round at
 * a time; an error ends the round (the next one tries again). Stop waits for the batch in hand.
 */
export class Pruner {
  private timer: NodeJS.Timeout | null = null
  private round: Promise<void> | null = null
  private stopped = false

  constructor(
    private readonly store: Pick<Store, 'prune' | 'reclaim'>,
    private readonly opts: PrunerOptions,
  ) {}

  start(): void {
    if (this.opts.maxAgeMs <= 0 || this.timer) return
    const tick = () => {
      this.round ??= this.runRound().finally(() => (this.round = null))
    }
    this.timer = setInterval(tick, this.opts.intervalMs)
    this.timer.unref()
    tick()
  }

  /** One round now: what tests and `tick` run. Resolves to the number pruned. */
  async runRound(): Promise<void> {
    try {
      for (;;) {
        if (this.stopped) return
        const n = await this.store.prune({ finishedBefore: Date.now() - this.opts.maxAgeMs, limit: this.opts.batch })
        if (n > 0) this.opts.onPruned?.(n)
        if (n > 0 && this.store.reclaim && this.opts.reclaimPages > 0) await this.store.reclaim(this.opts.reclaimPages)
        if (n < this.opts.batch) return
        await sleep(this.opts.pauseMs)
      }
    } catch (err) {
      this.opts.onError?.(err)
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.round
  }
}
