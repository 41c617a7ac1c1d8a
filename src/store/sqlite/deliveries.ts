import type Database from 'better-sqlite3'
import type { NotificationDelivery } from '../../schemas/notification.js'
import { outcomeColumns } from '../adapter/outbox.js'
import type { DeliveryColumns, JobColumns } from '../adapter/rows.js'
import type { ClaimDeliveriesOptions, DeliveryJob, DeliveryOutcome } from '../port/outbox.js'
import { mappers } from './rows.js'

// Column shapes of the outbox as better-sqlite3 returns them (times epoch ms, JSON as text).
type DeliveryRow = DeliveryColumns<number>
type JobRow = JobColumns<number, string>

interface InsertDelivery {
  id: string
  patch_id: string
  url: string
  event: string
  reason: string
  detail: string | null
  at: number
}

interface SettleDelivery {
  id: string
  owner: string
  attempt: number
  state: string
  status: number | null
  error: string | null
  next: number | null
  uncount: number
  now: number
}

/** The outbox statements, prepared once per connection next to the queue's. */
function prepareDeliveryStatements(db: Database.Database) {
  return {
    insert: db.prepare<[InsertDelivery]>(
      `INSERT INTO deliveries (id, patch_id, url, event, reason, detail, at, next_attempt_at, created_at, updated_at)
       VALUES (@id, @patch_id, @url, @event, @reason, @detail, @at, @at, @at, @at)`,
    ),
    // A delivery waits while an earlier one of its patch to its URL is pending, so a receiver
    // sees one patch's transitions in order.
    due: db.prepare<[{ now: number; urls: string; limit: number }], { seq: number }>(
      `SELECT d.seq FROM deliveries d
       WHERE d.state = 'pending' AND d.next_attempt_at <= @now
         AND d.url IN (SELECT value FROM json_each(@urls))
         AND NOT EXISTS (SELECT 1 FROM deliveries o
                         WHERE o.patch_id = d.patch_id AND o.url = d.url AND o.state = 'pending' AND o.seq < d.seq)
       ORDER BY d.next_attempt_at, d.seq LIMIT @limit`,
    ),
    claim: db.prepare<[{ seq: number; owner: string; until: number; now: number }]>(
      `UPDATE deliveries SET attempts = attempts + 1, lease_owner = @owner, next_attempt_at = @until, updated_at = @now
       WHERE seq = @seq AND state = 'pending' AND next_attempt_at <= @now`,
    ),
    job: db.prepare<[number], JobRow>(
      `SELECT d.id, d.url, d.attempts, d.patch_id, d.event, d.reason, d.detail, d.at, p.target, p.client_id, p.result, p.error
       FROM deliveries d JOIN patches p ON p.id = d.patch_id WHERE d.seq = ?`,
    ),
    settle: db.prepare<[SettleDelivery]>(
      `UPDATE deliveries SET state = @state, last_status = @status, last_error = @error, next_attempt_at = @next,
         attempts = attempts - @uncount, lease_owner = NULL, updated_at = @now
       WHERE id = @id AND state = 'pending' AND lease_owner = @owner AND attempts = @attempt`,
    ),
    ofPatch: db.prepare<[string], DeliveryRow>(
      `SELECT id, url, event, state, attempts, last_status, last_error, next_attempt_at, created_at, updated_at
       FROM deliveries WHERE patch_id = ? ORDER BY seq`,
    ),
  }
}

const { toDelivery, toJob } = mappers

/** The outbox (see OutboxPort); `insert` is what each transition's event writes (events.ts). */
export function prepareDeliveries(db: Database.Database) {
  const ds = prepareDeliveryStatements(db)
  return {
    insert: ds.insert,
    claim(opts: ClaimDeliveriesOptions): DeliveryJob[] {
      const now = opts.now ?? Date.now()
      const query = { now, urls: JSON.stringify(opts.urls), limit: opts.limit }
      // Polled often and mostly idle: look first without the write lock other processes contend for.
      if (opts.urls.length === 0 || !ds.due.get(query)) return []
      return db
        .transaction(() =>
          ds.due.all(query).flatMap(({ seq }) => {
            if (ds.claim.run({ seq, owner: opts.owner, until: now + opts.leaseMs, now }).changes !== 1) return []
            const row = ds.job.get(seq)
            return row ? [toJob(row)] : []
          }),
        )
        .immediate()
    },
    settle(id: string, owner: string, attempt: number, outcome: DeliveryOutcome, now?: number): boolean {
      const { retryInMs, ...columns } = outcomeColumns(outcome)
      const at = now ?? Date.now()
      const next = retryInMs === null ? null : at + retryInMs
      return ds.settle.run({ id, owner, attempt, ...columns, next, now: at }).changes === 1
    },
    ofPatch: (patchId: string): NotificationDelivery[] => ds.ofPatch.all(patchId).map(toDelivery),
  }
}

export type Deliveries = ReturnType<typeof prepareDeliveries>
