import type { HistoryPort } from './port/history.js'
import type { OutboxPort } from './port/outbox.js'
import type { QueuePort } from './port/queue.js'
import type { RegistryPort } from './port/registry.js'
import type { RetentionPort } from './port/retention.js'
import type { TotalsPort } from './port/totals.js'

// Callers name the store's types from here; each part lives in port/ with its concern.
export { MAY_HAVE_LANDED_REASONS, VERIFY_ONLY_REASON, verifyOnly } from './port/queue.js'
export type { ClaimedPatch, EnqueueInput, ListPage, ListQuery, TargetCounts } from './port/queue.js'
export type { RunnerInfo } from './port/registry.js'
export type { DeliveryJob, DeliveryOutcome, NotificationSubscription } from './port/outbox.js'

/**
 * The store port: the patch queue, the runner registry and the notification outbox, with the
 * totals, retention and history parts and the store's own lifecycle. Every adapter (SQLite,
 * PostgreSQL) implements it and passes the same conformance suite (test/store/conformance.ts).
 * All times are epoch milliseconds unless the record says otherwise; `now` parameters exist so
 * tests can drive lease expiry deterministically.
 */
export interface Store extends QueuePort, RegistryPort, OutboxPort, TotalsPort, RetentionPort, HistoryPort {
  readonly kind: 'sqlite' | 'postgres'
  /** Applies pending migrations; safe when several processes start at once. */
  migrate(): Promise<void>
  /** A cheap write round trip, for the webhook probe: proves the store accepts writes. */
  ping(): Promise<void>
  /** Settles (commits) enqueues already accepted, then releases the connection(s). */
  close(): Promise<void>
}
