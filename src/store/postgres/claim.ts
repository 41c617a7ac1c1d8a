import type { ClaimedPatch, ClaimOptions } from '../port/queue.js'
import { now } from './clock.js'
import { outboxCte } from './deliveries.js'
import { eventsPlus } from './events.js'
import { prepared, type Db } from './prepared.js'
import { instantParam, pgText, summaryColumns, toRecord, type ClaimAttemptRow } from './rows.js'

// A lost race costs a round trip; more than a few in a row means heavy contention on every
// lane, and the caller's next poll is as good as another try.
const CLAIM_ATTEMPTS = 3

/**
 * Claims the head of one lane in one statement. Parameters: $1 targets (text[] or null),
 * $2 runner id, $3 now (or null), $4 lease ms, $5 and $6 the subscribed (url, status) pairs.
 *
 * `pick` locks a lane row with SKIP LOCKED, so concurrent claimers spread over lanes instead
 * of queueing on one, and a lane another runner is claiming from is passed over. NO KEY UPDATE
 * rather than UPDATE: it still excludes other claimers, but not a KEY SHARE lock (enqueues took
 * one through a foreign key before schema v8; now they never lock the lane row). The head
 * is the lane's lowest unfinished lane_seq, found through the partial index; a lane whose head
 * is running has no candidate, so it blocks only itself. Lanes compete by their head's seq.
 *
 * The head comes from the statement's snapshot, which may be older than the lane lock. That is
 * safe: patches only leave the unfinished set and new ones join behind it, so a head that is
 * still queued when the UPDATE re-reads its row (READ COMMITTED rechecks `status = 'queued'`
 * against the newest version) is still the head; if it was claimed or cancelled meanwhile the
 * UPDATE matches nothing and the row comes back with `picked` set and the patch columns null,
 * so the caller can look again with a fresh snapshot. The history returned comes from the same
 * snapshot, plus the claim event.
 */
export const claimSql = (s: string) => `
  WITH t AS (SELECT ${now('$3')} AS now),
  pick AS MATERIALIZED (
    SELECT h.id
    FROM ${s}.lanes l
    CROSS JOIN LATERAL (
      SELECT p.id, p.status, p.seq FROM ${s}.patches p
      WHERE p.target = l.target AND p.status IN ('queued', 'running')
      ORDER BY p.lane_seq
      LIMIT 1
    ) h
    WHERE h.status = 'queued' AND ($1::text[] IS NULL OR l.target = ANY ($1::text[]))
    ORDER BY h.seq
    LIMIT 1
    FOR NO KEY UPDATE OF l SKIP LOCKED
  ),
  claimed AS (
    UPDATE ${s}.patches p
    SET status = 'running', attempts = p.attempts + 1, lease_token = nextval('${s}.lease_token_seq'), lease_owner = $2,
      lease_expires_at = t.now + $4::float8 * interval '1 millisecond', started_at = t.now, updated_at = t.now
    FROM t
    WHERE p.id = (SELECT pick.id FROM pick) AND p.status = 'queued'
    RETURNING p.*
  ),
  ev AS (
    INSERT INTO ${s}.events (patch_id, at, status, reason, detail)
    SELECT id, started_at, 'running', 'claimed', lease_owner FROM claimed
    RETURNING id, patch_id, at, status, reason, detail
  ),${outboxCte(s, 'ev', '$5', '$6')}
  SELECT pick.id AS picked, ${summaryColumns('c')}, c.patch, c.result, c.lease_token, c.lease_expires_at, ${eventsPlus(s, 'ev')}
  FROM pick LEFT JOIN claimed c ON c.id = pick.id`

/** See QueuePort.claim; an empty lane list claims nothing without asking. */
export function claimOps(s: string, db: Db) {
  const stmt = prepared(claimSql(s))
  return async (runnerId: string, opts: ClaimOptions): Promise<ClaimedPatch | null> => {
    if (opts.targets !== null && opts.targets.length === 0) return null
    const subs = db.subscriptions()
    const values = [opts.targets?.map(pgText) ?? null, pgText(runnerId), instantParam(opts.now), opts.leaseMs, subs.urls, subs.statuses]
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const row = (await db.exec<ClaimAttemptRow>(stmt, values)).rows[0]
      if (!row) return null
      if (row.id !== null) return { record: toRecord(row), token: row.lease_token, leaseExpiresAt: row.lease_expires_at.getTime() }
      // The head picked from the snapshot was taken before the lane lock was: look again.
    }
    return null
  }
}
