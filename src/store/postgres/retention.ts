import { PRUNABLE_SQL } from '../adapter/sql.js'
import type { PruneOptions } from '../port/retention.js'
import type { Migration } from './migration.js'
import { prepared, type Db } from './prepared.js'

/** The finished patches in the order retention takes them. */
export const RETENTION_MIGRATION: Migration = {
  version: 5,
  name: 'retention',
  sql: (s) => `CREATE INDEX patches_finished ON ${s}.patches (finished_at) WHERE status IN (${PRUNABLE_SQL});`,
}

/**
 * $1 finished before (timestamptz), $2 limit. One short statement: the events with their patches
 * (schema v8 has no foreign key to cascade them), outbox rows by ON DELETE CASCADE, the totals by
 * trigger. SKIP LOCKED: gateways pruning at once take different rows, and a row another
 * transaction holds is left for the next round. An event is only ever written by a statement
 * holding its patch's row lock, so none can appear for a patch this one deletes.
 */
export const pruneSql = (s: string) => `
  WITH gone AS (
    DELETE FROM ${s}.patches WHERE id IN (
      SELECT id FROM ${s}.patches WHERE status IN (${PRUNABLE_SQL}) AND finished_at < $1::timestamptz
      ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)
    RETURNING id
  ),
  events AS (DELETE FROM ${s}.events WHERE patch_id = ANY (ARRAY(SELECT id FROM gone)))
  SELECT count(*)::int AS n FROM gone`

/** One batch per call; resolves to the number deleted. */
export function retentionOps(s: string, db: Db) {
  const stmt = prepared(pruneSql(s))
  return async (opts: PruneOptions): Promise<number> => (await db.exec<{ n: number }>(stmt, [new Date(opts.finishedBefore).toISOString(), opts.limit])).rows[0]?.n ?? 0
}
