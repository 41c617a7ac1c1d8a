// Shared by the adapters' notification outbox, so subscriptions and delivery ids mean the same everywhere.
import { randomUUID } from 'node:crypto'
import type { PatchStatus } from '../../schemas/record.js'
import type { DeliveryOutcome, NotificationSubscription } from '../port/outbox.js'

const STATUSES: readonly PatchStatus[] = ['queued', 'running', 'applied', 'failed', 'rejected', 'cancelled']

/** Which URLs want which status, indexed for the transitions that consult it. */
export class Subscriptions {
  private readonly byStatus = new Map<string, string[]>()
  /** Parallel arrays of every (status, url) pair, the shape a SQL `unnest` join wants. */
  readonly statuses: string[] = []
  readonly urls: string[] = []

  constructor(subscriptions: readonly NotificationSubscription[] = []) {
    for (const sub of subscriptions) {
      for (const status of sub.events ?? STATUSES) {
        if (!STATUSES.includes(status)) throw new RangeError(`not a patch status: ${JSON.stringify(status)}`)
        const urls = this.byStatus.get(status) ?? []
        if (urls.includes(sub.url)) continue
        urls.push(sub.url)
        this.byStatus.set(status, urls)
        this.statuses.push(status)
        this.urls.push(sub.url)
      }
    }
  }

  urlsFor(status: string): readonly string[] {
    return this.byStatus.get(status) ?? []
  }
}

/**
 * A delivery's id, sent as `webhook-id` on every attempt. The same shape as the PostgreSQL
 * adapter's `'msg_' || replace(gen_random_uuid()::text, '-', '')`.
 */
export const newDeliveryId = (): string => `msg_${randomUUID().replaceAll('-', '')}`

/** The columns an outcome writes: a next attempt only while the delivery is pending. */
export function outcomeColumns(outcome: DeliveryOutcome): {
  state: string
  status: number | null
  error: string | null
  retryInMs: number | null
  /** Subtracted from attempts: 1 for an attempt that does not count. */
  uncount: number
} {
  switch (outcome.state) {
    case 'delivered':
      return { state: 'delivered', status: outcome.status, error: null, retryInMs: null, uncount: 0 }
    case 'failed':
      return { state: 'failed', status: outcome.status, error: outcome.error, retryInMs: null, uncount: 0 }
    case 'pending':
      return { state: 'pending', status: outcome.status, error: outcome.error, retryInMs: Math.max(0, outcome.retryInMs), uncount: outcome.interrupted ? 1 : 0 }
  }
}
