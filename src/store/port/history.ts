/** What fillHistory writes: `count` patches of one target that finished long ago. */
export interface HistoryFill {
  target: string
  count: number
  status: 'applied' | 'failed' | 'rejected' | 'cancelled'
  /** When they were created and finished (epoch ms). */
  at: number
  /** The stored patch (a NormalizedPatch as JSON): sets the size of each row. */
  payload: string
}

/**
 * The port's part for sizing and benchmarks: stores finished history in bulk, inside the
 * database (no round trip per patch), through the same tables, counters and triggers as real
 * work, each patch with its enqueued, claimed and finished events. Not for production traffic:
 * these patches never ran.
 */
export interface HistoryPort {
  fillHistory?(fill: HistoryFill): Promise<void>
}
