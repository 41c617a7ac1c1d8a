import type { NormalizedPatch } from '../schemas/patch.js'
import type { NotificationDelivery } from '../schemas/notification.js'
import type { PatchError, PatchRecord, PatchResult, PatchStatus, PatchSummary } from '../schemas/record.js'

/**
 * The store port. Every adapter (SQLite, PostgreSQL) implements it and passes the same
 * conformance suite (test/store/conformance.ts). All times are epoch milliseconds unless the
 * record says otherwise; `now` parameters exist so tests can drive lease expiry deterministically.
 *
 * Event reason codes (the `reason` of each PatchEvent), identical in every adapter:
 * - `enqueued` (→ queued), `claimed` (→ running, detail: runner id),
 *   `completed` (→ applied, detail: commit or null);
 * - fail(): the error's `code` (→ failed | rejected, detail: the error's message);
 * - release(): the caller's reason (→ queued); cancel(): the caller's reason or `cancelled`
 *   (only a queued patch without any MAY_HAVE_LANDED_REASONS event can be cancelled);
 * - reapExpired(): `lease_expired` (→ queued, detail: the lost runner's id) or, once attempts
 *   reach maxAttempts, `lease_expired_verify` (→ queued, same detail). Lease expiry never fails
 *   a patch: see reapExpired.
 */

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
/** The same reasons as an SQL list, for both stores' cancel statements. */
export const MAY_HAVE_LANDED_SQL = MAY_HAVE_LANDED_REASONS.map((r) => `'${r}'`).join(', ')

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

export interface ListQuery {
  status?: PatchStatus
  target?: string
  /** Opaque cursor returned by the previous page; a forged one throws InvalidCursorError (ids.ts). */
  cursor?: string
  limit: number
}

/** Newest first (creation order); keyset paging, so later enqueues never shift older pages. */
export interface ListPage {
  items: PatchSummary[]
  next_cursor: string | null
}

export interface RunnerInfo {
  id: string
  host: string
  pid: number
  started_at: string
  last_seen: string
  /** Free-form state the runner reports, e.g. blocked workspaces. */
  info: Record<string, unknown>
}

/** One row per target that has ever had a patch (zeros included), sorted by target (byte order). */
export interface TargetCounts {
  target: string
  queued: number
  running: number
  /** Epoch ms of the oldest queued patch, or null. */
  oldest_queued_at: number | null
}

export type CancelResult =
  | { outcome: 'cancelled'; record: PatchRecord }
  | { outcome: 'not_found' }
  | { outcome: 'not_cancellable'; record: PatchRecord }

/** How a lost lease ends: retried, or (attempted maxAttempts times) handed to a verification-only claim. */
export interface ReapOptions {
  now?: number
  maxAttempts: number
}

/** A configured destination and the statuses it wants (null: every status). */
export interface NotificationSubscription {
  url: string
  events: readonly PatchStatus[] | null
}

/** A delivery handed to a dispatcher: the transition it reports and the patch it belongs to. */
export interface DeliveryJob {
  /** Stable across attempts: the webhook-id. */
  id: string
  url: string
  /** This attempt's number, from 1; with the owner it fences settleDelivery. */
  attempt: number
  patch_id: string
  status: PatchStatus
  reason: string
  detail: string | null
  /** When the transition happened (ISO 8601). */
  at: string
  target: string
  client_id: string | null
  result: PatchResult | null
  error: PatchError | null
}

export interface ClaimDeliveriesOptions {
  owner: string
  /** Only deliveries to these URLs (the ones this process can sign for). */
  urls: readonly string[]
  limit: number
  /** How long the claim holds before another dispatcher may try again. */
  leaseMs: number
  now?: number
}

export type DeliveryOutcome =
  | { state: 'delivered'; status: number }
  /**
   * Due again retryInMs from now by the store's clock (the database's, shared by every machine).
   * `interrupted`: this side gave the attempt up (shutdown), so it does not count.
   */
  | { state: 'pending'; status: number | null; error: string; retryInMs: number; interrupted?: boolean }
  | { state: 'failed'; status: number | null; error: string }

export interface Store {
  readonly kind: 'sqlite' | 'postgres'
  /** Applies pending migrations; safe when several processes start at once. */
  migrate(): Promise<void>
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
  claim(runnerId: string, opts: { targets: string[] | null; leaseMs: number; now?: number }): Promise<ClaimedPatch | null>
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
  /** Only a queued patch can be cancelled; the lane behind it advances. */
  cancel(id: string, reason?: string): Promise<CancelResult>
  runnerHeartbeat(runner: Omit<RunnerInfo, 'last_seen'>, now?: number): Promise<void>
  /** Sorted by id (byte order). */
  runners(): Promise<RunnerInfo[]>
  counts(): Promise<TargetCounts[]>
  /** Patches queued in every lane: what the webhook's queue cap needs, cheaper than counts(). */
  queuedTotal(): Promise<number>
  /** A cheap write round trip, for the webhook probe: proves the store accepts writes. */
  ping(): Promise<void>
  /** Settles (commits) enqueues already accepted, then releases the connection(s). */
  close(): Promise<void>
  /**
   * Optional wake-ups when any instance queues a patch (PostgreSQL LISTEN/NOTIFY). `null` means
   * notifications may have been missed: look at every lane. Polling stays the source of truth.
   * Returns the unsubscribe function.
   */
  onPatchQueued?(listener: (target: string | null) => void): () => void
  /**
   * From now on every status change this instance records also records, in the same
   * transaction, a pending delivery for each subscription that wants the new status (the
   * outbox). Replaces the previous subscriptions; none by default.
   */
  setSubscriptions(subscriptions: readonly NotificationSubscription[]): void
  /**
   * Claims up to `limit` pending deliveries that are due, for the given URLs, oldest due first:
   * each counts an attempt and is held until now + leaseMs, so one delivery is in flight at one
   * dispatcher at a time. Deliveries of one patch to one URL go out in order: a later one waits
   * while an earlier one is pending.
   */
  claimDeliveries(opts: ClaimDeliveriesOptions): Promise<DeliveryJob[]>
  /**
   * Records how an attempt ended: delivered, failed for good, or pending again until
   * retryInMs. Refused (false) unless the delivery is pending and this owner holds this attempt.
   */
  settleDelivery(id: string, owner: string, attempt: number, outcome: DeliveryOutcome, now?: number): Promise<boolean>
  /** The deliveries of a patch in the order they were recorded; empty for an unknown id. */
  deliveries(patchId: string): Promise<NotificationDelivery[]>
}
