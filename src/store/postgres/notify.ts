import type pg from 'pg'
import type { StoreLogger } from './logger.js'

/**
 * Sends the "a patch was queued" NOTIFY after the enqueue committed, in its own statement.
 * Inside the enqueue it would save that statement, but Postgres serialises the commits of all
 * notifying transactions in a database on one lock held through the WAL flush, so concurrent
 * enqueues would each wait for the others' fsyncs. Here one statement is in flight at a time
 * and carries every target queued meanwhile, and it commits without waiting for the flush:
 * a lost wake-up costs one polling interval, nothing more.
 */
export class PatchNotifier {
  private readonly pending = new Set<string>()
  private scheduled: NodeJS.Immediate | null = null
  private inflight: Promise<void> | null = null
  private readonly sql = `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, t) FROM unnest($2::text[]) AS t`

  constructor(
    private readonly pool: pg.Pool,
    private readonly channel: string,
    private readonly logger?: StoreLogger,
  ) {}

  queued(target: string): void {
    this.pending.add(target)
    if (!this.inflight) this.scheduled ??= setImmediate(() => this.send())
  }

  /** Sends what is pending and resolves once nothing is left to send. */
  async drain(): Promise<void> {
    while (this.inflight || this.pending.size > 0) {
      if (!this.inflight) this.send()
      await this.inflight
    }
  }

  private send(): void {
    if (this.scheduled) clearImmediate(this.scheduled)
    this.scheduled = null
    if (this.inflight || this.pending.size === 0) return
    const targets = [...this.pending]
    this.pending.clear()
    this.inflight = this.pool.query(this.sql, [this.channel, targets]).then(
      () => undefined,
      (err: unknown) => this.logger?.warn({ err, targets }, 'patch NOTIFY failed; runners will find the patches by polling'),
    )
    void this.inflight.then(() => {
      this.inflight = null
      if (this.pending.size > 0) this.send()
    })
  }
}
