import { now } from './clock.js'
import { outboxCte } from './deliveries.js'
import { prepared, type Statement } from './prepared.js'
import { recordColumns } from './rows.js'

export interface EnqueueSql {
  byKeys: Statement
  insert: Statement
}

/**
 * The statements of a batch of enqueues (enqueue.ts runs them).
 *
 * `insert` ($1… parallel arrays, one element per patch in acceptance order, but for $8, the
 * patches as one JSON array, whose elements json_array_elements returns as the exact text given;
 * the last two the subscribed (url, status) pairs) takes the batch's lane numbers and stores the
 * batch, its events and outbox rows, all in one round trip:
 * - Each target's lane_tails row is locked in target order, so two batches never wait on each
 *   other in a cycle, and held to the commit, so within a lane the numbers follow commit order
 *   across every gateway. The lanes row is created once and never locked here (its ON CONFLICT
 *   DO NOTHING does not conflict with a claim's lock); this statement writes it, so it commits
 *   with the patches that name it, and no foreign key checks that row by row (schema v8).
 * - The global seqs are drawn after every tail is locked (the aggregate over `tail` ends before
 *   any row of `numbered` exists), in acceptance order (`items` reads a sorted subquery), so
 *   within a lane seq follows lane_seq and claim order matches list order.
 * - A key already stored, or committed meanwhile by a concurrent transaction (ON CONFLICT waits
 *   for it), makes its row a no-op: its lane number and seq are then harmless gaps, and the
 *   caller is answered from the stored row by `byKeys`.
 *
 * Every row it touches is found through a conflict target or a primary key: nothing a plan made
 * for an empty table could turn into a scan (enqueue.ts keeps its generic plan).
 */
export function enqueueSql(s: string): EnqueueSql {
  return {
    byKeys: prepared(`SELECT ${recordColumns(s, 'p')}, p.idempotency_key, p.body_hash FROM ${s}.patches p WHERE p.idempotency_key = ANY ($1::text[])`),
    insert: prepared(`
      WITH t AS (SELECT ${now('NULL')} AS now),
      input AS (
        SELECT u.*, p.patch
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $9::text[])
          WITH ORDINALITY AS u(id, target, client_id, format, description, idempotency_key, body_hash, submitted_by, ord)
        JOIN json_array_elements($8::json) WITH ORDINALITY AS p(patch, ord) ON p.ord = u.ord
      ),
      counts AS (SELECT target, count(*) AS n FROM input GROUP BY target),
      lane AS (
        INSERT INTO ${s}.lanes (target) SELECT target FROM counts ON CONFLICT DO NOTHING
      ),
      tail AS (
        INSERT INTO ${s}.lane_tails AS l (target, next_seq)
        SELECT target, n FROM counts ORDER BY target
        ON CONFLICT (target) DO UPDATE SET next_seq = l.next_seq + excluded.next_seq
        RETURNING l.target, l.next_seq
      ),
      locked AS (SELECT json_object_agg(target, next_seq) AS ends FROM tail),
      numbered AS (
        SELECT i.*, (l.ends ->> i.target)::bigint - count(*) OVER w + row_number() OVER (w ORDER BY i.ord) AS lane_seq
        FROM input i, locked l
        WINDOW w AS (PARTITION BY i.target)
      ),
      items AS (
        SELECT n.*, nextval('${s}.patch_seq') AS seq FROM (SELECT * FROM numbered ORDER BY ord) n
      ),
      ins AS (
        INSERT INTO ${s}.patches (id, seq, target, lane_seq, status, client_id, format, description, idempotency_key,
          body_hash, patch, attempts, created_at, updated_at, submitted_by)
        SELECT i.id, i.seq, i.target, i.lane_seq, 'queued', i.client_id, i.format, i.description, i.idempotency_key, i.body_hash,
          i.patch, 0, t.now, t.now, i.submitted_by
        FROM items i, t ORDER BY i.seq
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING *
      ),
      ev AS (
        INSERT INTO ${s}.events (patch_id, at, status, reason, detail)
        SELECT id, created_at, 'queued', 'enqueued', submitted_by FROM ins ORDER BY seq
        RETURNING patch_id, at, status, reason, detail
      ),${outboxCte(s, 'ev', '$10', '$11')}
      SELECT ins.id, ins.created_at
      FROM ins`),
  }
}
