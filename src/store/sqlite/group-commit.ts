/** Per-item outcome of a batch: one bad item must not sink the others. */
export type ItemOutcome<O> = { ok: true; value: O } | { ok: false; error: unknown }

interface Pending<I, O> {
  item: I
  resolve: (value: O) => void
  reject: (error: unknown) => void
}

export interface GroupCommitStats {
  /** Batches committed (or failed as a whole). */
  batches: number
  /** Items settled through those batches. */
  items: number
  /** The largest batch so far. */
  largest: number
}

/**
 * Gathers calls made in the same event-loop turn and hands them to `commit` as one batch, so
 * that a burst of enqueues costs one transaction and one fsync instead of one each. A promise
 * settles only after `commit` returned, i.e. after the transaction that holds its item has
 * committed; if `commit` throws (the transaction as a whole failed) every item of the batch
 * is rejected with that error.
 */
export class GroupCommit<I, O> {
  private pending: Pending<I, O>[] = []
  private scheduled: NodeJS.Immediate | null = null
  readonly stats: GroupCommitStats = { batches: 0, items: 0, largest: 0 }

  constructor(
    private readonly commit: (items: I[]) => ItemOutcome<O>[],
    private readonly maxBatch: number,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer: ${maxBatch}`)
  }

  push(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject })
      if (this.pending.length >= this.maxBatch) this.flush()
      // setImmediate runs after the current turn's I/O callbacks, so requests parsed in the
      // same turn share a batch; the wait it adds is far below one fsync.
      else this.scheduled ??= setImmediate(() => this.flush())
    })
  }

  /** Commits whatever is pending now; synchronous, so close() can drain before closing. */
  flush(): void {
    if (this.scheduled) {
      clearImmediate(this.scheduled)
      this.scheduled = null
    }
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch)
      this.run(batch)
    }
  }

  get size(): number {
    return this.pending.length
  }

  private run(batch: Pending<I, O>[]): void {
    this.stats.batches += 1
    this.stats.items += batch.length
    this.stats.largest = Math.max(this.stats.largest, batch.length)
    let outcomes: ItemOutcome<O>[]
    try {
      outcomes = this.commit(batch.map((p) => p.item))
    } catch (error) {
      for (const p of batch) p.reject(error)
      return
    }
    batch.forEach((p, i) => {
      const o = outcomes[i]
      if (!o) p.reject(new Error('group commit returned no outcome for an item'))
      else if (o.ok) p.resolve(o.value)
      else p.reject(o.error)
    })
  }
}
