import type Database from 'better-sqlite3'
import type { PatchStatus } from '../../schemas/record.js'
import { MAY_HAVE_LANDED_SQL } from '../adapter/sql.js'
import type { CancelResult } from '../port/queue.js'
import type { Events } from './events.js'
import type { Get } from './get.js'

/** Cancels a queued patch that cannot have landed, in one IMMEDIATE transaction (see QueuePort.cancel). */
export function prepareCancel(db: Database.Database, { events, get }: { events: Events; get: Get }) {
  const cancel = db.prepare<[{ id: string; now: number; by: string | null }]>(
    `UPDATE patches SET status = 'cancelled', finished_at = @now, updated_at = @now, cancelled_by = @by
     WHERE id = @id AND status = 'queued'
       AND NOT EXISTS (SELECT 1 FROM events WHERE patch_id = @id AND reason IN (${MAY_HAVE_LANDED_SQL}))`,
  )
  return (id: string, reason: string, by: string | null): CancelResult => {
    const now = Date.now()
    return db
      .transaction((): CancelResult => {
        if (cancel.run({ id, now, by }).changes === 1) {
          events.record({ patch_id: id, at: now, status: 'cancelled' satisfies PatchStatus, reason, detail: by })
          return { outcome: 'cancelled', record: get.loadSeen(id) }
        }
        const record = get.load(id)
        return record ? { outcome: 'not_cancellable', record } : { outcome: 'not_found' }
      })
      .immediate()
  }
}
