import { jsonOrNull, type Finish } from '../adapter/finish.js'
import { now } from './clock.js'
import { outboxCte } from './deliveries.js'
import { prepared, type Db } from './prepared.js'
import { instantParam, pgText } from './rows.js'
import { VERIFY_ONLY_REASON, type ReapOptions } from '../port/queue.js'

// Every statement that ends or extends a lease names the token: a runner that lost its lease
// (reaped, re-claimed by another) matches no row, whatever it believes.

/** $1 id, $2 token, $3 now (or null), $4 lease ms. */
export const heartbeatSql = (s: string) => `
  UPDATE ${s}.patches SET lease_expires_at = ${now('$3')} + $4::float8 * interval '1 millisecond'
  WHERE id = $1 AND status = 'running' AND lease_token = $2`

/**
 * $1 id, $2 token, $3 final status, $4 result json, $5 error json, $6 reason, $7 detail,
 * $8 and $9 the subscribed (url, status) pairs.
 */
export const finishSql = (s: string) => `
  WITH t AS (SELECT ${now('NULL')} AS now),
  upd AS (
    UPDATE ${s}.patches p
    SET status = $3, result = $4::json, error = $5::json, lease_expires_at = NULL, finished_at = t.now, updated_at = t.now
    FROM t
    WHERE p.id = $1 AND p.status = 'running' AND p.lease_token = $2
    RETURNING p.id, p.updated_at
  ),
  ev AS (
    INSERT INTO ${s}.events (patch_id, at, status, reason, detail)
    SELECT id, updated_at, $3, $6, $7 FROM upd
    RETURNING patch_id, at, status, reason, detail
  ),${outboxCte(s, 'ev', '$8', '$9')}
  SELECT 1 FROM ev`

/**
 * $1 id, $2 token, $3 reason, $4 detail, $5 and $6 the subscribed (url, status) pairs, $7 whether
 * the claim tried the patch (false gives its attempt back; see QueuePort.release).
 */
export const releaseSql = (s: string) => `
  WITH t AS (SELECT ${now('NULL')} AS now),
  upd AS (
    UPDATE ${s}.patches p
    SET status = 'queued', lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, started_at = NULL, updated_at = t.now,
      attempts = p.attempts - CASE WHEN $7::boolean THEN 0 ELSE 1 END
    FROM t
    WHERE p.id = $1 AND p.status = 'running' AND p.lease_token = $2
    RETURNING p.id, p.updated_at
  ),
  ev AS (
    INSERT INTO ${s}.events (patch_id, at, status, reason, detail)
    SELECT id, updated_at, 'queued', $3, $4 FROM upd
    RETURNING patch_id, at, status, reason, detail
  ),${outboxCte(s, 'ev', '$5', '$6')}
  SELECT 1 FROM ev`

/**
 * $1 now (or null), $2 max attempts, $3 and $4 the subscribed (url, status) pairs. SKIP LOCKED
 * lets gateways reap concurrently without waiting on each other or on a runner's heartbeat; a
 * lease whose heartbeat committed after the snapshot is re-checked against its newest row and
 * left alone. Every expired lease is requeued, never failed: from maxAttempts on the reason
 * hands the patch to a verification-only claim, since its runner may have committed before it
 * died (see QueuePort.reapExpired).
 */
export const reapSql = (s: string) => `
  WITH t AS (SELECT ${now('$1')} AS now),
  expired AS (
    SELECT p.id, coalesce(p.lease_owner, 'unknown') AS owner,
      CASE WHEN p.attempts >= $2::int THEN '${VERIFY_ONLY_REASON}' ELSE 'lease_expired' END AS reason
    FROM ${s}.patches p, t
    WHERE p.status = 'running' AND p.lease_expires_at <= t.now
    ORDER BY p.seq
    FOR UPDATE OF p SKIP LOCKED
  ),
  retried AS (
    UPDATE ${s}.patches p
    SET status = 'queued', lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, started_at = NULL, updated_at = t.now
    FROM expired e, t
    WHERE p.id = e.id
    RETURNING p.id, p.seq, p.updated_at AS at, e.reason, e.owner AS detail
  ),
  ev AS (
    INSERT INTO ${s}.events (patch_id, at, status, reason, detail)
    SELECT id, at, 'queued', reason, detail FROM retried ORDER BY seq
    RETURNING patch_id, at, status, reason, detail
  ),${outboxCte(s, 'ev', '$3', '$4')}
  SELECT patch_id AS id FROM ev`

/** Heartbeat, finish, release and reaping of running patches; each one statement. */
export function leaseOps(s: string, db: Db) {
  const st = { heartbeat: prepared(heartbeatSql(s)), finish: prepared(finishSql(s)), release: prepared(releaseSql(s)), reap: prepared(reapSql(s)) }
  return {
    heartbeat: async (id: string, token: number, leaseMs: number, at?: number): Promise<boolean> =>
      (await db.exec(st.heartbeat, [pgText(id), token, instantParam(at), leaseMs])).rowCount === 1,

    finish: async (f: Finish): Promise<boolean> => {
      const subs = db.subscriptions()
      const values = [pgText(f.id), f.token, f.status, jsonOrNull(f.result), jsonOrNull(f.error), pgText(f.reason), pgText(f.detail), subs.urls, subs.statuses]
      return (await db.exec(st.finish, values)).rowCount === 1
    },

    release: async (id: string, token: number, reason: string, detail: string | null, attempted: boolean): Promise<boolean> => {
      const subs = db.subscriptions()
      const values = [pgText(id), token, pgText(reason), pgText(detail), subs.urls, subs.statuses, attempted]
      return (await db.exec(st.release, values)).rowCount === 1
    },

    /** Resolves to the ids requeued. */
    reap: async (opts: ReapOptions): Promise<string[]> => {
      const subs = db.subscriptions()
      const rows = (await db.exec<{ id: string }>(st.reap, [instantParam(opts.now), opts.maxAttempts, subs.urls, subs.statuses])).rows
      return rows.map((r) => r.id)
    },
  }
}
