import type Database from 'better-sqlite3'
import { newDeliveryId, type Subscriptions } from '../adapter/outbox.js'
import type { Deliveries } from './deliveries.js'
import type { EventRow } from './rows.js'

export interface AddEvent {
  patch_id: string
  at: number
  status: string
  reason: string
  detail: string | null
}

/**
 * A patch's event rows. Every transition goes through `record`: its event row, and the outbox
 * rows it owes the subscriptions of the moment, in the caller's transaction.
 */
export function prepareEvents(db: Database.Database, outbox: Pick<Deliveries, 'insert'>, subscriptions: () => Subscriptions) {
  const add = db.prepare<[AddEvent]>(
    `INSERT INTO events (patch_id, seq, at, status, reason, detail)
     VALUES (@patch_id, (SELECT coalesce(max(seq), 0) + 1 FROM events WHERE patch_id = @patch_id), @at, @status, @reason, @detail)`,
  )
  const ofPatch = db.prepare<[string], EventRow>('SELECT at, status, reason, detail FROM events WHERE patch_id = ? ORDER BY seq')
  return {
    record(e: AddEvent): void {
      add.run(e)
      for (const url of subscriptions().urlsFor(e.status)) {
        outbox.insert.run({ id: newDeliveryId(), patch_id: e.patch_id, url, event: e.status, reason: e.reason, detail: e.detail, at: e.at })
      }
    },
    of: (id: string): EventRow[] => ofPatch.all(id),
  }
}

export type Events = ReturnType<typeof prepareEvents>
