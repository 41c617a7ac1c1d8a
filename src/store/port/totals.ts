import type { PatchStatus } from '../../schemas/record.js'

/**
 * Per target and status, kept by the store in the transaction of every transition (database
 * triggers in both adapters), so reading them costs a few rows however many patches are stored.
 */
export interface StatusTotal {
  target: string
  status: PatchStatus
  /** Patches in this status now. Retention lowers it for the finished statuses it prunes. */
  current: number
  /**
   * Patches that ever reached this status, never lowered: for `queued` the patches accepted (a
   * requeue does not count again), for `running` the claims, for a final status the patches
   * that finished so. Counted from the migration that introduced them, which backfilled them.
   */
  reached: number
}

/** The port's part that reads the totals. */
export interface TotalsPort {
  /** Every (target, status) pair that has ever had a patch, sorted by target (byte order) then status. */
  totals(): Promise<StatusTotal[]>
  /** Patches queued in every lane: the webhook's queue cap, read from the totals. */
  queuedTotal(): Promise<number>
}
