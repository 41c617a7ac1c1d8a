import { now } from './clock.js'
import { outboxCte } from './deliveries.js'
import { prepared, type Statement } from './prepared.js'
import { recordColumns } from './rows.js'

export interface EnqueueSql {
  byKeys: Statement
  reserve: Statement
  insert: Statement
}

/**
 * The three statements of a batch of enqueues (group-commit.ts runs them).
 *
 * `reserve` ($1 targets, distinct and sorted; $2 how many patches each; $3 their sum) takes a
 * block of lane numbers per target: its lane_tails row is locked in target order, so two batches
 * never wait on each other in a cycle, and held to the commit, so within a lane the numbers
 * follow commit order across every gateway. The lanes row is created once and never locked here
 * (its ON CONFLICT DO NOTHING and the foreign key's KEY SHARE do not conflict with a claim's
 * lock). The global seqs are drawn after every tail is locked (the aggregate over `tail` ends
 * before the select list runs), so within a lane seq follows lane_seq and claim order matches list
 * order.
 *
 * `insert` ($1… parallel arrays, one element per patch; the last two the subscribed (url,
 * status) pairs) stores the batch, its events and outbox rows in one statement. A key a
 * concurrent transaction committed makes its row a no-op (ON CONFLICT waits for that
 * transaction); its lane number is then a harmless gap.
 */
export function enqueueSql(s: string): EnqueueSql {
  return {
    byKeys: prepared(`SELECT ${recordColumns(s, 'p')}, p.idempotency_key, p.body_hash FROM ${s}.patches p WHERE p.idempotency_key = ANY ($1::text[])`),
    reserve: prepared(`
      WITH lane AS (
        INSERT INTO ${s}.lanes (target) SELECT x.t FROM unnest($1::text[]) AS x(t) ON CONFLICT DO NOTHING
      ),
      tail AS (
        INSERT INTO ${s}.lane_tails AS l (target, next_seq)
        SELECT x.t, x.n FROM unnest($1::text[], $2::bigint[]) AS x(t, n) ORDER BY x.t
        ON CONFLICT (target) DO UPDATE SET next_seq = l.next_seq + excluded.next_seq
        RETURNING l.target, l.next_seq
      ),
      locked AS (SELECT json_object_agg(target, next_seq) AS ends FROM tail)
      SELECT locked.ends, (SELECT array_agg(nextval('${s}.patch_seq')::text) FROM generate_series(1, $3::int)) AS seqs FROM locked`),
    insert: prepared(`
      WITH t AS (SELECT ${now('NULL')} AS now),
      items AS (
        SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
          $9::text[], $10::text[], $11::text[])
          AS u(id, seq, target, lane_seq, client_id, format, description, idempotency_key, body_hash, patch, submitted_by)
      ),
      ins AS (
        INSERT INTO ${s}.patches (id, seq, target, lane_seq, status, client_id, format, description, idempotency_key,
          body_hash, patch, attempts, created_at, updated_at, submitted_by)
        SELECT i.id, i.seq, i.target, i.lane_seq, 'queued', i.client_id, i.format, i.description, i.idempotency_key, i.body_hash,
          i.patch::json, 0, t.now, t.now, i.submitted_by
        FROM items i, t ORDER BY i.seq
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING *
      ),
      ev AS (
        INSERT INTO ${s}.events (patch_id, at, status, reason, detail)
        SELECT id, created_at, 'queued', 'enqueued', submitted_by FROM ins ORDER BY seq
        RETURNING patch_id, at, status, reason, detail
      ),${outboxCte(s, 'ev', '$12', '$13')}
      SELECT ins.id, ins.created_at
      FROM ins`),
  }
}
