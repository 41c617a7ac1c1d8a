import type Database from 'better-sqlite3'
import type { TargetCounts } from '../port/queue.js'
import type { StatusTotal } from '../port/totals.js'
import type { Migration } from './migration.js'
import { toCounts, type CountRow } from './rows.js'

/**
 * Per-status totals kept by triggers, so every transition (and every retention delete) updates
 * them in its own transaction and no code path can forget to. A requeue is not counted again
 * in `reached`: reached(queued) is the number of patches accepted. The backfill counts what is
 * stored; reached(running) starts as the sum of attempts.
 *
 * The list indexes: every combination of the list filters (status, target, submitter) has an
 * index ending in seq, so a filtered page reads `limit` rows however long the history is.
 */
export const TOTALS_MIGRATION: Migration = {
  version: 4,
  name: 'status totals and list indexes',
  sql: `
    CREATE TABLE patch_totals (
      target  TEXT NOT NULL,
      status  TEXT NOT NULL,
      current INTEGER NOT NULL,
      reached INTEGER NOT NULL,
      PRIMARY KEY (target, status)
    ) STRICT, WITHOUT ROWID;

    CREATE TRIGGER patch_totals_inserted AFTER INSERT ON patches BEGIN
      INSERT INTO patch_totals (target, status, current, reached) VALUES (NEW.target, NEW.status, 1, 1)
      ON CONFLICT (target, status) DO UPDATE SET current = current + 1, reached = reached + 1;
    END;
    CREATE TRIGGER patch_totals_moved AFTER UPDATE OF status ON patches WHEN OLD.status <> NEW.status BEGIN
      UPDATE patch_totals SET current = current - 1 WHERE target = OLD.target AND status = OLD.status;
      INSERT INTO patch_totals (target, status, current, reached) VALUES (NEW.target, NEW.status, 1, NEW.status <> 'queued')
      ON CONFLICT (target, status) DO UPDATE SET current = current + 1, reached = reached + excluded.reached;
    END;
    CREATE TRIGGER patch_totals_deleted AFTER DELETE ON patches BEGIN
      UPDATE patch_totals SET current = current - 1 WHERE target = OLD.target AND status = OLD.status;
    END;

    INSERT INTO patch_totals (target, status, current, reached)
      SELECT target, status, count(*), count(*) FROM patches GROUP BY target, status;
    INSERT INTO patch_totals (target, status, current, reached)
      SELECT target, 'queued', 0, count(*) FROM patches WHERE true GROUP BY target
      ON CONFLICT (target, status) DO UPDATE SET reached = excluded.reached;
    INSERT INTO patch_totals (target, status, current, reached)
      SELECT target, 'running', 0, sum(attempts) FROM patches WHERE true GROUP BY target
      ON CONFLICT (target, status) DO UPDATE SET reached = excluded.reached;

    CREATE INDEX patches_by_target_status ON patches (target, status, seq);
    CREATE INDEX patches_by_submitter_status ON patches (submitted_by, status, seq);
    CREATE INDEX patches_by_submitter_target ON patches (submitted_by, target, seq);
    CREATE INDEX patches_by_submitter_target_status ON patches (submitted_by, target, status, seq);
  `,
}

/** The totals, and each lane's counts read from them. */
export function prepareTotals(db: Database.Database) {
  const all = db.prepare<[], StatusTotal>('SELECT target, status, current, reached FROM patch_totals ORDER BY target, status')
  const queued = db.prepare<[], { n: number | null }>(`SELECT sum(current) AS n FROM patch_totals WHERE status = 'queued'`)
  // The lane's queue from the totals; its oldest queued patch is its queued head (lane order
  // is creation order), one probe of the lane-head index.
  const counts = db.prepare<[], CountRow>(
    `SELECT l.target,
       coalesce((SELECT t.current FROM patch_totals t WHERE t.target = l.target AND t.status = 'queued'), 0) AS queued,
       coalesce((SELECT t.current FROM patch_totals t WHERE t.target = l.target AND t.status = 'running'), 0) AS running,
       (SELECT h.created_at FROM patches h WHERE h.target = l.target AND h.status IN ('queued','running') AND h.status = 'queued'
        ORDER BY h.lane_seq LIMIT 1) AS oldest_queued_at
     FROM lanes l
     ORDER BY l.target`,
  )
  return {
    all: (): StatusTotal[] => all.all(),
    queued: (): number => queued.get()?.n ?? 0,
    counts: (): TargetCounts[] => counts.all().map(toCounts),
  }
}
