import type Database from 'better-sqlite3'
import { MAY_HAVE_LANDED_SQL } from '../port.js'
import { prepareDeliveryStatements } from './deliveries.js'
import type { CountRow, EventRow, PatchRow, RunnerRow, SummaryRow } from './rows.js'

const SUMMARY_COLUMNS = `id, seq, target, lane_seq, status, client_id, format, description, idempotency_key, body_hash,
  attempts, lease_token, lease_owner, lease_expires_at, error, created_at, updated_at, started_at, finished_at`

export interface InsertPatch {
  id: string
  seq: number
  target: string
  lane_seq: number
  client_id: string | null
  format: string
  description: string
  idempotency_key: string | null
  body_hash: string
  payload: string
  now: number
}

export interface AddEvent {
  patch_id: string
  at: number
  status: string
  reason: string
  detail: string | null
}

export interface Finish {
  id: string
  token: number
  status: 'applied' | 'failed' | 'rejected'
  result: string | null
  error: string | null
  now: number
}

export interface ListFilter {
  status?: string
  target?: string
  before?: number
}

/** Every statement the store runs, prepared once per connection. */
export function prepareStatements(db: Database.Database) {
  const listCache = new Map<string, Database.Statement<[ListFilter & { limit: number }], SummaryRow>>()
  return {
    // Upserts that return the new value: the counter and the row change in one statement, so
    // two writers can never read the same value.
    nextLaneSeq: db.prepare<[string], { next_seq: number }>(
      `INSERT INTO lanes (target, next_seq) VALUES (?, 1)
       ON CONFLICT (target) DO UPDATE SET next_seq = next_seq + 1 RETURNING next_seq`,
    ),
    nextCounter: db.prepare<[string], { value: number }>(
      `INSERT INTO counters (name, value) VALUES (?, 1)
       ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`,
    ),
    byKey: db.prepare<[string], { id: string; body_hash: string }>('SELECT id, body_hash FROM patches WHERE idempotency_key = ?'),
    insertPatch: db.prepare<[InsertPatch]>(
      `INSERT INTO patches (id, seq, target, lane_seq, status, client_id, format, description, idempotency_key,
         body_hash, payload, attempts, created_at, updated_at)
       VALUES (@id, @seq, @target, @lane_seq, 'queued', @client_id, @format, @description, @idempotency_key,
         @body_hash, @payload, 0, @now, @now)`,
    ),
    addEvent: db.prepare<[AddEvent]>(
      `INSERT INTO events (patch_id, seq, at, status, reason, detail)
       VALUES (@patch_id, (SELECT coalesce(max(seq), 0) + 1 FROM events WHERE patch_id = @patch_id), @at, @status, @reason, @detail)`,
    ),
    patch: db.prepare<[string], PatchRow>('SELECT * FROM patches WHERE id = ?'),
    events: db.prepare<[string], EventRow>('SELECT at, status, reason, detail FROM events WHERE patch_id = ? ORDER BY seq'),
    // The head of a lane is its lowest unfinished lane_seq; a lane with a running patch has
    // nothing claimable. Walking lanes (few) rather than queued patches (possibly a long backlog
    // behind one busy lane) keeps a claim at O(lanes · log n). Lanes compete by the creation
    // order of their heads. MATERIALIZED and CROSS JOIN pin that plan.
    head: db.prepare<[{ targets: string | null }], { id: string }>(
      `WITH heads AS MATERIALIZED (
         SELECT (SELECT h.id FROM patches h WHERE h.target = l.target AND h.status IN ('queued', 'running')
                 ORDER BY h.lane_seq LIMIT 1) AS id
         FROM lanes l
         WHERE (@targets IS NULL OR l.target IN (SELECT value FROM json_each(@targets)))
           AND NOT EXISTS (SELECT 1 FROM patches r WHERE r.target = l.target AND r.status = 'running')
       )
       SELECT p.id FROM heads CROSS JOIN patches p ON p.id = heads.id
       WHERE p.status = 'queued' ORDER BY p.seq LIMIT 1`,
    ),
    markRunning: db.prepare<[{ id: string; token: number; owner: string; expires: number; now: number }]>(
      `UPDATE patches SET status = 'running', attempts = attempts + 1, lease_token = @token, lease_owner = @owner,
         lease_expires_at = @expires, started_at = @now, updated_at = @now
       WHERE id = @id AND status = 'queued'`,
    ),
    extendLease: db.prepare<[{ id: string; token: number; expires: number }]>(
      `UPDATE patches SET lease_expires_at = @expires WHERE id = @id AND status = 'running' AND lease_token = @token`,
    ),
    finish: db.prepare<[Finish]>(
      `UPDATE patches SET status = @status, result = @result, error = @error, lease_expires_at = NULL,
         finished_at = @now, updated_at = @now
       WHERE id = @id AND status = 'running' AND lease_token = @token`,
    ),
    // give_back: 1 returns the claim's attempt (a release that did nothing to the patch).
    requeue: db.prepare<[{ id: string; token: number; now: number; give_back: 0 | 1 }]>(
      `UPDATE patches SET status = 'queued', lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL,
         started_at = NULL, updated_at = @now, attempts = attempts - @give_back
       WHERE id = @id AND status = 'running' AND lease_token = @token`,
    ),
    expired: db.prepare<[number], { id: string; attempts: number; lease_token: number; lease_owner: string | null }>(
      `SELECT id, attempts, lease_token, lease_owner FROM patches
       WHERE status = 'running' AND lease_expires_at <= ? ORDER BY seq`,
    ),
    cancel: db.prepare<[{ id: string; now: number }]>(
      `UPDATE patches SET status = 'cancelled', finished_at = @now, updated_at = @now
       WHERE id = @id AND status = 'queued'
         AND NOT EXISTS (SELECT 1 FROM events WHERE patch_id = @id AND reason IN (${MAY_HAVE_LANDED_SQL}))`,
    ),
    list(filter: ListFilter) {
      const where: string[] = []
      if (filter.status !== undefined) where.push('status = @status')
      if (filter.target !== undefined) where.push('target = @target')
      if (filter.before !== undefined) where.push('seq < @before')
      const key = where.join(' AND ')
      let stmt = listCache.get(key)
      if (!stmt) {
        stmt = db.prepare<[ListFilter & { limit: number }], SummaryRow>(
          `SELECT ${SUMMARY_COLUMNS} FROM patches ${where.length > 0 ? `WHERE ${key}` : ''} ORDER BY seq DESC LIMIT @limit`,
        )
        listCache.set(key, stmt)
      }
      return stmt
    },
    upsertRunner: db.prepare<[RunnerRow]>(
      `INSERT INTO runners (id, host, pid, started_at, last_seen, info) VALUES (@id, @host, @pid, @started_at, @last_seen, @info)
       ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,
         last_seen = excluded.last_seen, info = excluded.info`,
    ),
    runners: db.prepare<[], RunnerRow>('SELECT * FROM runners ORDER BY id'),
    // Counted in the (status, seq) index alone: the queue cap reads it while the webhook is busy.
    queuedTotal: db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM patches WHERE status = 'queued'`),
    counts: db.prepare<[], CountRow>(
      `SELECT l.target, coalesce(a.queued, 0) AS queued, coalesce(a.running, 0) AS running, a.oldest_queued_at
       FROM lanes l LEFT JOIN (
         SELECT target, sum(status = 'queued') AS queued, sum(status = 'running') AS running,
           min(CASE WHEN status = 'queued' THEN created_at END) AS oldest_queued_at
         FROM patches WHERE status IN ('queued', 'running') GROUP BY target
       ) a ON a.target = l.target
       ORDER BY l.target`,
    ),
    deliveries: prepareDeliveryStatements(db),
  }
}

export type Statements = ReturnType<typeof prepareStatements>
