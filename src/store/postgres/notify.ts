import type pg from 'pg'
import type { StoreLogger } from '../logger.js'
import { prepared } from './prepared.js'

/**
 * Sends the store's NOTIFYs after the change they announce committed, in their own statement:
 * "a patch was queued" (payload: its target) and "a patch changed" (payload: its id). Inside
 * the enqueue it would save that statement, but Postgres serialises the commits of all
 * notifying transactions in a database on one lock held through the WAL flush, so concurrent
 * enqueues would each wait for the others' fsyncs. Here one statement is in flight at a time
 * and carries every notification due meanwhile, and it commits without waiting for the flush:
 * a lost wake-up costs one polling interval, nothing more. Under load it runs once per group
 * commit, so it is a named statement: parsed and planned once per connection, not every time.
 */
export class PatchNotifier {
  /** Per channel, the payloads waiting to be sent (a set: one notification says it). */
  private readonly pending = new Map<string, Set<string>>()
  private scheduled: NodeJS.Immediate | null = null
  private inflight: Promise<void> | null = null
  private readonly statement = prepared(`SELECT set_config('synchronous_commit', 'off', true), pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS n(c, p)`)

  constructor(
    private readonly pool: pg.Pool,
    private readonly channels: { queued: string; changed: string },
    private readonly logger?: StoreLogger,
  ) {}

  /** A patch was queued for `target`: wakes the runners. */
  queued(target: string): void {
    this.add(this.channels.queued, target)
  }

  /** Patch `id` changed status: wakes whoever follows it. */
  changed(id: string): void {
    this.add(this.channels.changed, id)
  }

  private add(channel: string, payload: string): void {
    let set = this.pending.get(channel)
    if (!set) this.pending.set(channel, (set = new Set()))
    set.add(payload)
    if (!this.inflight) this.scheduled ??= setImmediate(() => this.send())
  }

  private get waiting(): boolean {
    return this.pending.size > 0
  }

  /** Sends what is pending and resolves once nothing is left to send. */
  async drain(): Promise<void> {
    while (this.inflight || this.waiting) {
      if (!this.inflight) this.send()
      await this.inflight
    }
  }

  private send(): void {
    if (this.scheduled) clearImmediate(this.scheduled)
    this.scheduled = null
    if (this.inflight || !this.waiting) return
    const channels: string[] = []
    const payloads: string[] = []
    for (const [channel, set] of this.pending) {
      for (const payload of set) {
        channels.push(channel)
        payloads.push(payload)
      }
    }
    this.pending.clear()
    this.inflight = this.pool.query({ ...this.statement, values: [channels, payloads] }).then(
      () => undefined,
      (err: unknown) => this.logger?.warn({ err, notifications: payloads.length }, 'patch NOTIFY failed; runners and event streams will find the changes by polling'),
    )
    void this.inflight.then(() => {
      this.inflight = null
      if (this.waiting) this.send()
    })
  }
}
