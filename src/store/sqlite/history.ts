import type Database from 'better-sqlite3'
import type { HistoryFill } from '../port/history.js'
import type { Counters } from './counters.js'

const CHUNK = 10_000

/** See HistoryPort: chunks of CHUNK patches, each chunk one IMMEDIATE transaction. */
export function prepareHistory(db: Database.Database, counters: Counters) {
  const patches = db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @n)
     INSERT INTO patches (id, seq, target, lane_seq, status, client_id, format, description, idempotency_key, body_hash, payload,
       attempts, created_at, updated_at, started_at, finished_at)
     SELECT @prefix || i, @seq0 + i, @target, @lane0 + i, @status, NULL, 'native', 'history', NULL, 'history', @payload,
       1, @at, @at, @at, @at FROM n`,
  )
  const events = db.prepare(
    `INSERT INTO events (patch_id, seq, at, status, reason, detail)
     SELECT p.id, e.seq, @at, e.status, e.reason, NULL FROM patches p
     CROSS JOIN (SELECT 1 AS seq, 'queued' AS status, 'enqueued' AS reason UNION ALL SELECT 2, 'running', 'claimed'
                 UNION ALL SELECT 3, @status, 'completed') e
     WHERE p.seq > @seq0 AND p.seq <= @seq0 + @n`,
  )
  // Stored as finished, so the insert trigger counted only the final status: they were also
  // accepted and claimed once.
  const passed = db.prepare<[{ target: string; n: number }]>(
    `INSERT INTO patch_totals (target, status, current, reached) VALUES (@target, 'queued', 0, @n), (@target, 'running', 0, @n)
     ON CONFLICT (target, status) DO UPDATE SET reached = reached + excluded.reached`,
  )
  return (fill: HistoryFill): void => {
    for (let done = 0; done < fill.count; done += CHUNK) {
      const n = Math.min(CHUNK, fill.count - done)
      db.transaction(() => {
        const lane0 = counters.reserveLane(fill.target, n) - n
        const seq0 = counters.reserve('patch_seq', n) - n
        const params = { n, seq0, lane0, target: fill.target, status: fill.status, at: fill.at, payload: fill.payload, prefix: `hist_${seq0}_` }
        patches.run(params)
        events.run({ n, seq0, at: fill.at, status: fill.status })
        passed.run({ target: fill.target, n })
      }).immediate()
    }
  }
}
