import type { PatchRecord } from '../../schemas/record.js'
import { MAY_HAVE_LANDED_SQL } from '../adapter/sql.js'
import type { CancelResult } from '../port/queue.js'
import { now } from './clock.js'
import { outboxCte } from './deliveries.js'
import { eventsPlus } from './events.js'
import { prepared, type Db } from './prepared.js'
import { pgText, summaryColumns, toRecord, type PatchRow } from './rows.js'

/**
 * $1 id, $2 reason, $3 and $4 the subscribed (url, status) pairs, $5 the cancelling credential's
 * name (or null). Only a queued patch matches; the caller reads the record otherwise.
 */
export const cancelSql = (s: string) => `
  WITH t AS (SELECT ${now('NULL')} AS now),
  cancelled AS (
    UPDATE ${s}.patches p SET status = 'cancelled', finished_at = t.now, updated_at = t.now, cancelled_by = $5
    FROM t
    WHERE p.id = $1 AND p.status = 'queued'
      AND NOT EXISTS (SELECT 1 FROM ${s}.events e WHERE e.patch_id = p.id AND e.reason IN (${MAY_HAVE_LANDED_SQL}))
    RETURNING p.*
  ),
  ev AS (
    INSERT INTO ${s}.events (patch_id, at, status, reason, detail)
    SELECT id, updated_at, 'cancelled', $2, cancelled_by FROM cancelled
    RETURNING id, patch_id, at, status, reason, detail
  ),${outboxCte(s, 'ev', '$3', '$4')}
  SELECT ${summaryColumns('c')}, c.patch, c.result, ${eventsPlus(s, 'ev')}
  FROM cancelled c`

/** See QueuePort.cancel: one statement, then a read of the record when nothing was cancelled. */
export function cancelOps(s: string, db: Db, load: (id: string) => Promise<PatchRecord | null>) {
  const stmt = prepared(cancelSql(s))
  return async (id: string, reason: string, cancelledBy: string | null): Promise<CancelResult> => {
    const subs = db.subscriptions()
    const by = cancelledBy === null ? null : pgText(cancelledBy)
    const row = (await db.exec<PatchRow>(stmt, [pgText(id), pgText(reason), subs.urls, subs.statuses, by])).rows[0]
    if (row) return { outcome: 'cancelled', record: toRecord(row) }
    const record = await load(id)
    return record ? { outcome: 'not_cancellable', record } : { outcome: 'not_found' }
  }
}
