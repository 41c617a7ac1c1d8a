import type pg from 'pg'
import type { Subscriptions } from '../adapter/outbox.js'
import type { EnqueueInput, EnqueueResult } from '../port/queue.js'
import type { Deadlined } from './deadline.js'
import { RetryAlone, storeBatch, type KeyLookup, type Waiter } from './enqueue.js'
import type { EnqueueSql } from './enqueue-sql.js'

export interface GroupCommitOptions {
  /** Most enqueues in one transaction. */
  maxBatch: number
  /** Batches in flight at once, each on its own pooled connection. */
  maxFlights: number
}

export interface GroupCommitStats {
  batches: number
  items: number
  largest: number
}

// A connection lost while checked out also emits 'error' (its query fails with it too);
// unheard, that event would crash the process.
const lost = () => {}

/**
 * A pooled connection with `onError` listening from the moment the pool hands it over: the
 * callback form, since a promise would leave a gap in which a pending error (a backend killed
 * while the connection was idle) is emitted with nobody listening.
 */
function checkOut(pool: pg.Pool): Promise<pg.PoolClient> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client) => {
      if (err || !client) return reject(err ?? new Error('the pool handed out no connection'))
      client.on('error', lost)
      resolve(client)
    })
  })
}

/**
 * Gathers the enqueues that arrive together and stores each gathering in one transaction
 * (enqueue.ts storeBatch): one commit, one WAL flush and one lane lock for many patches. An idle
 * store adds no wait: a call starts a batch at once (after the current event-loop turn, so
 * requests parsed together share it). While `maxFlights` batches are in flight new calls wait
 * for one to end, which is the whole wait a busy store adds, bounded by one commit; they then
 * leave together, at most `maxBatch` at a time, as soon as it ended. Calls leave in arrival
 * order; two calls with one idempotency key never share a batch (the second is answered from the
 * first's row). Batches in flight together may commit either way round: a lane keeps the order
 * of acknowledgements, not of calls still unanswered.
 */
export class EnqueueGroupCommit {
  private waiting: Waiter[] = []
  private flights = 0
  private scheduled = false
  readonly stats: GroupCommitStats = { batches: 0, items: 0, largest: 0 }

  constructor(
    /** The connections batches are sent on (one per flight): see enqueue.ts on their plans. */
    private readonly pool: pg.Pool,
    private readonly sql: EnqueueSql,
    private readonly lookUp: KeyLookup,
    private readonly subscriptions: () => Subscriptions,
    private readonly opts: GroupCommitOptions,
  ) {}

  enqueue(input: EnqueueInput, op: Deadlined): Promise<EnqueueResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ input, op, resolve, reject })
      this.pump()
    })
  }

  private pump(): void {
    if (this.scheduled || this.flights >= this.opts.maxFlights || this.waiting.length === 0) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.launch()
    })
  }

  private launch(): void {
    while (this.flights < this.opts.maxFlights) {
      const batch = this.take()
      if (batch.length === 0) return
      this.flights++
      void this.fly(batch).finally(() => {
        this.flights--
        // The calls that came during the flight have gathered already: they leave at once, not
        // after the event loop's next turn, which under load parses many requests first.
        this.launch()
      })
    }
  }

  /** The next batch, in arrival order; a caller already answered (deadline) is settled and left out. */
  private take(): Waiter[] {
    const batch: Waiter[] = []
    const keys = new Set<string>()
    const rest: Waiter[] = []
    for (const w of this.waiting) {
      if (w.op.state.aborted) {
        w.reject(w.op.state.reason)
        continue
      }
      const key = w.input.idempotencyKey
      const full = batch.length >= this.opts.maxBatch || batch[0]?.solo === true || (w.solo === true && batch.length > 0)
      if (full || (key !== null && keys.has(key))) rest.push(w)
      else {
        batch.push(w)
        if (key !== null) keys.add(key)
      }
    }
    this.waiting = rest
    return batch
  }

  private async fly(batch: Waiter[]): Promise<void> {
    let client: pg.PoolClient
    try {
      client = await checkOut(this.pool)
    } catch (error) {
      for (const w of batch) w.reject(error)
      return
    }
    let broken: unknown = null
    try {
      this.count(batch)
      await storeBatch(client, this.sql, batch, this.subscriptions(), this.lookUp)
    } catch (error) {
      broken = error
      if (error instanceof RetryAlone) this.waiting.unshift(...error.waiters)
      // Settles every waiter the batch has not answered (a failed key look-up); a promise
      // already settled ignores it.
      else for (const w of batch) w.reject(error)
    } finally {
      client.off('error', lost)
      // A connection whose statement failed is not reused: its link may be the cause.
      client.release(broken === null ? undefined : broken instanceof Error ? broken : true)
    }
  }

  private count(batch: Waiter[]): void {
    this.stats.batches += 1
    this.stats.items += batch.length
    this.stats.largest = Math.max(this.stats.largest, batch.length)
  }
}
