import type { TargetCounts } from '../port/queue.js'
import type { StatusTotal } from '../port/totals.js'
import type { Migration } from './migration.js'
import { prepared, type Db } from './prepared.js'
import { toCounts, type CountRow } from './rows.js'

// Each connection adds to its own row of a (target, status) pair, picked by its backend pid:
// concurrent transitions of one lane rarely wait for each other's commit, and a read sums a few rows.
const SLOTS = 16

/**
 * Per-status totals kept by statement-level triggers (transition tables: one upsert per
 * target and status per statement, so a batch of enqueues costs one), in the transaction of
 * every transition and retention delete. Rows are locked in (target, status) order, always as
 * the last thing a statement does, so two transactions never wait for each other in a cycle.
 * A requeue is not counted again in `reached`. The triggers come first: CREATE TRIGGER locks
 * out writers, so the backfill sees every row and no write slips between the two.
 *
 * The list indexes: every combination of the list filters (status, target, submitter) has an
 * index ending in seq, so a filtered page reads `limit` rows however long the history is.
 */
export const TOTALS_MIGRATION: Migration = {
  version: 4,
  name: 'status totals and list indexes',
  sql: (s) => `
    CREATE TABLE ${s}.patch_totals (
      target  text COLLATE "C" NOT NULL,
      status  text NOT NULL,
      slot    smallint NOT NULL,
      current bigint NOT NULL,
      reached bigint NOT NULL,
      PRIMARY KEY (target, status, slot)
    );

    CREATE FUNCTION ${s}.patch_totals_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO ${s}.patch_totals AS t (target, status, slot, current, reached)
        SELECT n.target, n.status, pg_backend_pid() % ${SLOTS}, count(*), count(*) FROM new_rows n
        GROUP BY n.target, n.status ORDER BY n.target, n.status
        ON CONFLICT (target, status, slot) DO UPDATE SET current = t.current + excluded.current, reached = t.reached + excluded.reached;
      ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO ${s}.patch_totals AS t (target, status, slot, current, reached)
        SELECT d.target, d.status, pg_backend_pid() % ${SLOTS}, sum(d.current), sum(d.reached) FROM (
          SELECT o.target, o.status, -1 AS current, 0 AS reached FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.status <> o.status
          UNION ALL
          SELECT n.target, n.status, 1, CASE WHEN n.status = 'queued' THEN 0 ELSE 1 END FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.status <> o.status
        ) d
        GROUP BY d.target, d.status ORDER BY d.target, d.status
        ON CONFLICT (target, status, slot) DO UPDATE SET current = t.current + excluded.current, reached = t.reached + excluded.reached;
      ELSE
        INSERT INTO ${s}.patch_totals AS t (target, status, slot, current, reached)
        SELECT o.target, o.status, pg_backend_pid() % ${SLOTS}, -count(*), 0 FROM old_rows o
        GROUP BY o.target, o.status ORDER BY o.target, o.status
        ON CONFLICT (target, status, slot) DO UPDATE SET current = t.current + excluded.current;
      END IF;
      RETURN NULL;
    END $$;

    CREATE TRIGGER patch_totals_inserted AFTER INSERT ON ${s}.patches
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.patch_totals_add();
    CREATE TRIGGER patch_totals_moved AFTER UPDATE ON ${s}.patches
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.patch_totals_add();
    CREATE TRIGGER patch_totals_deleted AFTER DELETE ON ${s}.patches
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.patch_totals_add();

    INSERT INTO ${s}.patch_totals (target, status, slot, current, reached)
      SELECT target, status, 0, count(*), count(*) FROM ${s}.patches GROUP BY target, status;
    INSERT INTO ${s}.patch_totals (target, status, slot, current, reached)
      SELECT target, 'queued', 0, 0, count(*) FROM ${s}.patches GROUP BY target
      ON CONFLICT (target, status, slot) DO UPDATE SET reached = excluded.reached;
    INSERT INTO ${s}.patch_totals (target, status, slot, current, reached)
      SELECT target, 'running', 0, 0, sum(attempts) FROM ${s}.patches GROUP BY target
      ON CONFLICT (target, status, slot) DO UPDATE SET reached = excluded.reached;

    CREATE INDEX patches_by_target_status ON ${s}.patches (target, status, seq);
    CREATE INDEX patches_by_submitter_status ON ${s}.patches (submitted_by, status, seq);
    CREATE INDEX patches_by_submitter_target ON ${s}.patches (submitted_by, target, seq);
    CREATE INDEX patches_by_submitter_target_status ON ${s}.patches (submitted_by, target, status, seq);
  `,
}

export const totalsSql = (s: string) => `
  SELECT target, status, sum(current)::bigint AS current, sum(reached)::bigint AS reached
  FROM ${s}.patch_totals GROUP BY target, status ORDER BY target, status`

export const queuedTotalSql = (s: string) => `SELECT coalesce(sum(current), 0)::bigint AS n FROM ${s}.patch_totals WHERE status = 'queued'`

/**
 * Every lane, idle ones included, in byte order of target (the column is COLLATE "C"): queued
 * and running from the totals, the oldest queued patch from the lane's head (one probe of the
 * lane-head index; lane order is creation order).
 */
export const countsSql = (s: string) => `
  SELECT l.target,
    coalesce((SELECT sum(t.current) FROM ${s}.patch_totals t WHERE t.target = l.target AND t.status = 'queued'), 0)::bigint AS queued,
    coalesce((SELECT sum(t.current) FROM ${s}.patch_totals t WHERE t.target = l.target AND t.status = 'running'), 0)::bigint AS running,
    (SELECT h.created_at FROM ${s}.patches h WHERE h.target = l.target AND h.status IN ('queued', 'running') AND h.status = 'queued'
     ORDER BY h.lane_seq LIMIT 1) AS oldest_queued_at
  FROM ${s}.lanes l
  ORDER BY l.target`

/** The totals, and each lane's counts read from them. */
export function totalsOps(s: string, db: Db) {
  const st = { totals: prepared(totalsSql(s)), queued: prepared(queuedTotalSql(s)), counts: prepared(countsSql(s)) }
  return {
    all: async (): Promise<StatusTotal[]> => (await db.exec<StatusTotal>(st.totals, [])).rows,
    queued: async (): Promise<number> => Number((await db.exec<{ n: string | number }>(st.queued, [])).rows[0]?.n ?? 0),
    counts: async (): Promise<TargetCounts[]> => (await db.exec<CountRow>(st.counts, [])).rows.map(toCounts),
  }
}
