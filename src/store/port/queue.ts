import type { NormalizedPatch } from '../../schemas/patch.js'
import type { Queue } from '../../schemas/queue.js'
import type { PatchError, PatchRecord, PatchResult, PatchStatus, PatchSummary } from '../../schemas/record.js'
import type { PatchChangeListener } from '../changes.js'

/**
 * The event reason that hands a patch to a verification-only claim. Every claim of a patch
 * whose events hold it must not apply the patch: it records applied when the patch's commit
 * is found on the branch (an earlier attempt landed it), otherwise failed LEASE_LOST.
 */
export const VERIFY_ONLY_REASON = 'lease_expired_verify'

/**
 * Event reasons after which a queued patch may already have landed: a runner lost its lease on
 * it, or could not tell whether it had. Such a patch can no longer be cancelled (its commit may
 * be on the branch); only a runner's verification settles it.
 */
export const MAY_HAVE_LANDED_REASONS = ['lease_expired', VERIFY_ONLY_REASON, 'unverified'] as const

/** Whether a claim of this patch may only look for its commit, never apply it (see VERIFY_ONLY_REASON). */
export const verifyOnly = (record: Pick<PatchRecord, 'events'>): boolean => record.events.some((e) => e.reason === VERIFY_ONLY_REASON)

export interface EnqueueInput {
  /** Server-generated, URL-safe id. */
  id: string
  /** Idempotency key (webhook-id, Idempotency-Key header or client id), or null. */
  idempotencyKey: string | null
  /** Hash of the request body; a repeat of the key with another hash is a conflict. */
  bodyHash: string
  patch: NormalizedPatch
  /**
   * `JSON.stringify(patch)`, when the caller has made it already (for the body hash): stored as
   * it is, so a patch of a few KB is not serialised twice on the way in.
   */
  patchJson?: string
  /** Name of the credential that submitted it: kept as `submitted_by` and the enqueued event's detail. */
  submittedBy?: string | null
}

export type EnqueueResult =
  | { outcome: 'created'; record: PatchRecord }
  | { outcome: 'duplicate'; record: PatchRecord }
  | { outcome: 'conflict'; record: PatchRecord }

export interface ClaimedPatch {
  record: PatchRecord
  /** Fencing token: complete/fail/heartbeat with an older token are refused. */
  token: number
  leaseExpiresAt: number
}

export interface ClaimOptions {
  /** The lanes to claim from (null: all). */
  targets: string[] | null
  leaseMs: number
  now?: number
}

export interface ListQuery {
  status?: PatchStatus
  target?: string
  /** Only patches of these targets (a credential's workspaces); none when empty. */
  targets?: readonly string[]
  /** Only patches submitted under this credential name. */
  submittedBy?: string
  /** Opaque cursor returned by the previous page; a forged one throws InvalidCursorError (ids.ts). */
  cursor?: string
  limit: number
}

/** Newest first (creation order); keyset paging, so later enqueues never shift older pages. */
export interface ListPage {
  items: PatchSummary[]
  next_cursor: string | null
}

/**
 * One row per target that has ever had a patch (zeros included), sorted by target (byte order):
 * a `/queues` item before the route adds what configuration says, its oldest queued patch as
 * epoch ms (the lane's queued head: lane order is creation order), or null.
 */
export type TargetCounts = Omit<Queue, 'configured' | 'oldest_queued_at'> & { oldest_queued_at: number | null }

export type CancelResult =
  | { outcome: 'cancelled'; record: PatchRecord }
  | { outcome: 'not_found' }
  | { outcome: 'not_cancellable'; record: PatchRecord }

/** How a lost lease ends: retried, or (attempted maxAttempts times) handed to a verification-only claim. */
export interface ReapOptions {
  now?: number
  maxAttempts: number
}

/**
 * The patch queue: lanes of patches per target, claimed under fenced leases. Event reason codes
 * (the `reason` of each PatchEvent), identical in every adapter:
 * - `enqueued` (→ queued, detail: the submitting credential's name, or null),
 *   `claimed` (→ running, detail: runner id),
 *   `completed` (→ applied, detail: commit or null);
 * - fail(): the error's `code` (→ failed | rejected, detail: the error's message);
 * - release(): the caller's reason (→ queued); cancel(): the caller's reason or `cancelled`,
 *   detail: the cancelling credential's name or null (only a queued patch without any
 *   MAY_HAVE_LANDED_REASONS event can be cancelled);
 * - reapExpired(): `lease_expired` (→ queued, detail: the lost runner's id) or, once attempts
 *   reach maxAttempts, `lease_expired_verify` (→ queued, same detail). Lease expiry never fails
 *   a patch: see reapExpired.
 */
export interface QueuePort {
  /**
   * Durable before it resolves. Idempotent by key: the same key with the same body hash is a
   * `duplicate` (the stored record, nothing new queued), with another hash a `conflict`.
   * A constraint error (e.g. a reused id) rejects that call only.
   */
  enqueue(input: EnqueueInput): Promise<EnqueueResult>
  /**
   * Claims the head of one lane: the oldest queued patch of a target that has no running patch
   * and no older queued patch. `targets` restricts the lanes (null: all). Among eligible lanes
   * the one whose head was enqueued first wins. Each claim counts an attempt and issues a new
   * token, greater than every token issued before by this store.
   */
  claim(runnerId: string, opts: ClaimOptions): Promise<ClaimedPatch | null>
  /** Extends the lease to now + leaseMs; false when the token is stale or the patch not running. */
  heartbeat(id: string, token: number, leaseMs: number, now?: number): Promise<boolean>
  complete(id: string, token: number, result: PatchResult): Promise<boolean>
  /** Ends a running patch as failed or rejected; refused (false) when the token is stale. */
  fail(id: string, token: number, status: 'failed' | 'rejected', error: PatchError, result: PatchResult | null): Promise<boolean>
  /**
   * Puts a running patch back at the head of its lane (e.g. a lost push race); attempts are kept.
   * With `attempted: false` (the claim did nothing to the patch: its workspace was held by
   * another runner, the runner was stopping, whether it had landed could not be told) the claim
   * is given back, so maxAttempts counts only claims that tried the patch.
   */
  release(id: string, token: number, reason: string, detail?: string, opts?: { attempted?: boolean }): Promise<boolean>
  /**
   * Leases with lease_expires_at <= now go back to queued (attempts kept), at the head of their
   * lane, with reason `lease_expired`. Once attempts >= maxAttempts the reason is
   * `lease_expired_verify` (VERIFY_ONLY_REASON): the patch is not tried again, but it is not
   * failed here either, because its runner may have died between its commit and recording it
   * and only a runner can look at the branch. The next claim verifies: applied with the commit
   * it finds, else failed LEASE_LOST. A verification claim whose lease expires is requeued the
   * same way; it writes nothing of the patch and runs no check, so unlike an apply it cannot be
   * what kills its runner again and again. Resolves to the number of leases ended.
   */
  reapExpired(opts: ReapOptions): Promise<number>
  get(id: string): Promise<PatchRecord | null>
  list(query: ListQuery): Promise<ListPage>
  /**
   * Only a queued patch can be cancelled; the lane behind it advances. `cancelledBy` (a
   * credential's name) is kept as `cancelled_by` and the cancelled event's detail.
   */
  cancel(id: string, reason?: string, cancelledBy?: string | null): Promise<CancelResult>
  /** Read from the totals (totals.ts) and each lane's head: a few rows per lane, whatever is stored. */
  counts(): Promise<TargetCounts[]>
  /**
   * Optional wake-ups when any instance queues a patch (PostgreSQL LISTEN/NOTIFY). `null` means
   * notifications may have been missed: look at every lane. Polling stays the source of truth.
   * Returns the unsubscribe function.
   */
  onPatchQueued?(listener: (target: string | null) => void): () => void
  /**
   * Calls `listener` with a patch's id after each of its status changes committed (enqueue,
   * claim, complete, fail, release, lease expiry, cancel), or with null when changes may have
   * been missed: then every patch of interest is worth reading again. A wake-up, not a record.
   * Changes made through this store are heard at once; those of other processes a little later
   * (PostgreSQL LISTEN/NOTIFY, SQLite's data_version), and a lost notification is possible, so a
   * follower that must not miss one also reads now and then. Returns the unsubscribe function.
   */
  onPatchChanged(listener: PatchChangeListener): () => void
}
