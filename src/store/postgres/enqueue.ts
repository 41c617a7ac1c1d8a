import type pg from 'pg'
import type { Subscriptions } from '../outbox.js'
import type { EnqueueInput, EnqueueResult } from '../port.js'
import { now } from './clock.js'
import { outboxCte } from './deliveries.js'
import { prepared, type Statement } from './prepared.js'
import { pgText, recordColumns, toRecord, type PatchRow } from './rows.js'

export interface EnqueueSql {
  byKey: Statement
  insert: Statement
}

export function enqueueSql(s: string): EnqueueSql {
  return {
    byKey: prepared(`SELECT ${recordColumns(s, 'p')}, p.body_hash FROM ${s}.patches p WHERE p.idempotency_key = $1`),
    // One statement, so the tail row is locked only for the insert and the commit. nextval
    // runs after the tail upsert has taken the lock, so within a lane seq follows lane_seq and
    // claim order matches list order. The lanes row is created once and never locked here (its
    // ON CONFLICT DO NOTHING and the foreign key's KEY SHARE do not conflict with a claim's
    // lock). A key taken by a concurrent enqueue makes the insert a no-op (ON CONFLICT waits
    // for that transaction); the lane number it drew is then a harmless gap.
    insert: prepared(`
      WITH t AS (SELECT ${now('NULL')} AS now),
      lane AS (
        INSERT INTO ${s}.lanes (target) VALUES ($2) ON CONFLICT DO NOTHING
      ),
      tail AS (
        INSERT INTO ${s}.lane_tails AS l (target, next_seq) VALUES ($2, 1)
        ON CONFLICT (target) DO UPDATE SET next_seq = l.next_seq + 1
        RETURNING next_seq
      ),
      ins AS (
        INSERT INTO ${s}.patches (id, seq, target, lane_seq, status, client_id, format, description, idempotency_key,
          body_hash, patch, attempts, created_at, updated_at)
        SELECT $1, nextval('${s}.patch_seq'), $2, tail.next_seq, 'queued', $3, $4, $5, $6, $7, $8::json, 0, t.now, t.now
        FROM tail, t
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING *
      ),
      ev AS (
        INSERT INTO ${s}.events (patch_id, at, status, reason, detail)
        SELECT id, created_at, 'queued', 'enqueued', NULL FROM ins
        RETURNING patch_id, at, status, reason, detail
      ),${outboxCte(s, 'ev', '$9', '$10')}
      SELECT ins.id, ins.seq, ins.client_id, ins.target, ins.format, ins.status, ins.description, ins.attempts, ins.error,
        ins.created_at, ins.updated_at, ins.started_at, ins.finished_at, ins.patch, ins.result,
        json_build_array(json_build_object('at', (extract(epoch FROM ins.created_at) * 1000)::bigint,
          'status', 'queued', 'reason', 'enqueued', 'detail', NULL)) AS events
      FROM ins`),
  }
}

type KeyedRow = PatchRow & { body_hash: string }

async function byKey(pool: pg.Pool, sql: EnqueueSql, input: EnqueueInput): Promise<EnqueueResult | null> {
  if (input.idempotencyKey === null) return null
  const res = await pool.query<KeyedRow>({ ...sql.byKey, values: [pgText(input.idempotencyKey)] })
  const row = res.rows[0]
  if (!row) return null
  return { outcome: row.body_hash === input.bodyHash ? 'duplicate' : 'conflict', record: toRecord(row) }
}

/**
 * Durable when it resolves: each statement commits on its own, with synchronous_commit as the
 * server has it (on by default). A repeat of a key is answered from the stored row first, so
 * retries by clients do not touch the lane lock.
 */
export async function enqueue(pool: pg.Pool, sql: EnqueueSql, input: EnqueueInput, subs: Subscriptions): Promise<EnqueueResult> {
  const prior = await byKey(pool, sql, input)
  if (prior) return prior
  const { patch } = input
  const values = [
    pgText(input.id),
    pgText(patch.target),
    pgText(patch.client_id),
    patch.format,
    pgText(patch.description),
    pgText(input.idempotencyKey),
    input.bodyHash,
    JSON.stringify(patch),
    subs.urls,
    subs.statuses,
  ]
  const res = await pool.query<PatchRow>({ ...sql.insert, values })
  const row = res.rows[0]
  if (row) return { outcome: 'created', record: toRecord(row) }
  // The key was committed by a concurrent enqueue between our lookup and our insert.
  const raced = await byKey(pool, sql, input)
  if (!raced) throw new Error(`idempotency key ${JSON.stringify(input.idempotencyKey)} conflicted but is not stored`)
  return raced
}
