import type pg from 'pg'
import type { HistoryFill } from '../port/history.js'

const CHUNK = 20_000

/**
 * See HistoryPort: chunks of CHUNK patches, each chunk one statement (so one transaction). Ids
 * follow seq, so every index takes them in order: random ids made filling 300,000 patches take
 * a minute on a small machine, each insert landing on a page the last one did not touch.
 */
export async function fillHistory(pool: pg.Pool, s: string, fill: HistoryFill): Promise<void> {
  for (let done = 0; done < fill.count; done += CHUNK) {
    const n = Math.min(CHUNK, fill.count - done)
    await pool.query({
      text: `
        WITH lane AS (INSERT INTO ${s}.lanes (target) VALUES ($1) ON CONFLICT DO NOTHING),
        tail AS (
          INSERT INTO ${s}.lane_tails AS l (target, next_seq) VALUES ($1, $2)
          ON CONFLICT (target) DO UPDATE SET next_seq = l.next_seq + $2 RETURNING next_seq - $2 AS lane0
        ),
        ins AS (
          INSERT INTO ${s}.patches (id, seq, target, lane_seq, status, format, description, body_hash, patch, attempts,
            created_at, updated_at, started_at, finished_at)
          SELECT 'hist_' || lpad(n.seq::text, 19, '0'), n.seq, $1, tail.lane0 + n.i, $3, 'native', 'history', 'history', $4::json, 1,
            $5::timestamptz, $5::timestamptz, $5::timestamptz, $5::timestamptz
          FROM tail, (SELECT i, nextval('${s}.patch_seq') AS seq FROM generate_series(1, $2::int) AS i) n
          RETURNING id
        ),
        -- Stored as finished, so the insert trigger counts only the final status: they were also accepted and claimed once.
        passed AS (
          INSERT INTO ${s}.patch_totals AS t (target, status, slot, current, reached) VALUES ($1, 'queued', 0, 0, $2), ($1, 'running', 0, 0, $2)
          ON CONFLICT (target, status, slot) DO UPDATE SET reached = t.reached + excluded.reached
        )
        INSERT INTO ${s}.events (patch_id, at, status, reason)
        SELECT ins.id, $5::timestamptz, e.status, e.reason FROM ins
        CROSS JOIN (VALUES (1, 'queued', 'enqueued'), (2, 'running', 'claimed'), (3, $3, 'completed')) AS e(k, status, reason)
        ORDER BY ins.id, e.k`,
      values: [fill.target, n, fill.status, fill.payload, new Date(fill.at).toISOString()],
    })
  }
}
