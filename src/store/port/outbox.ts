import type { NotificationDelivery, NotificationPayload } from '../../schemas/notification.js'
import type { PatchResult, PatchStatus } from '../../schemas/record.js'

/** A configured destination and the statuses it wants (null: every status). */
export interface NotificationSubscription {
  url: string
  events: readonly PatchStatus[] | null
}

/**
 * A delivery handed to a dispatcher: the transition it reports (the fields of the payload's
 * `data` it fills) and the patch it belongs to.
 */
export type DeliveryJob = Pick<NotificationPayload['data'], 'client_id' | 'target' | 'status' | 'reason' | 'detail' | 'error'> & {
  /** Stable across attempts: the webhook-id. */
  id: string
  url: string
  /** This attempt's number, from 1; with the owner it fences settleDelivery. */
  attempt: number
  patch_id: string
  /** When the transition happened (ISO 8601). */
  at: string
  result: PatchResult | null
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

/**
 * The notification outbox: every status change a store records also records, in the same
 * transaction, a pending delivery for each subscription that wants the new status.
 */
export interface OutboxPort {
  /**
   * From now on every status change this instance records also records a delivery for each
   * subscription that wants the new status. Replaces the subscriptions given at open (none by
   * default).
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
