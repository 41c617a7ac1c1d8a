/** Finished statuses retention may delete; queued and running patches are never pruned. */
export const PRUNABLE_STATUSES = ['applied', 'failed', 'rejected', 'cancelled'] as const

export interface PruneOptions {
  /** Patches that finished before this instant (epoch ms) go. */
  finishedBefore: number
  /** Most patches deleted by this call: one short transaction. */
  limit: number
}

/** The port's part that deletes old history. */
export interface RetentionPort {
  /**
   * Deletes up to `limit` finished patches (PRUNABLE_STATUSES) that finished before
   * `finishedBefore`, oldest first, with their events and outbox rows, in one short
   * transaction; their idempotency keys go with them. Resolves to the number deleted, so a
   * caller repeats while it equals `limit`. Several processes may prune at once.
   */
  prune(opts: PruneOptions): Promise<number>
  /** Gives freed space back to the filesystem where the adapter can do so without stopping (SQLite); a few pages per call. */
  reclaim?(pages: number): Promise<number>
}
