import type Database from 'better-sqlite3'
import type { StoreLogger } from '../logger.js'
import type { EnqueueInput, EnqueueResult } from '../port/queue.js'
import type { Counters } from './counters.js'
import type { Events } from './events.js'
import type { Get } from './get.js'
import type { ItemOutcome } from './group-commit.js'
import { queuedRecord } from '../adapter/rows.js'
import type { PatchRow } from './rows.js'

interface InsertPatch {
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
  submitted_by: string | null
  now: number
}

export interface EnqueueDeps {
  counters: Counters
  events: Events
  get: Get
  logger?: StoreLogger
}

/** A queued patch's row as enqueue writes it. */
function queuedRow(input: EnqueueInput, seq: number, laneSeq: number, now: number): PatchRow {
  const { patch } = input
  return {
    id: input.id,
    seq,
    target: patch.target,
    lane_seq: laneSeq,
    status: 'queued',
    client_id: patch.client_id,
    format: patch.format,
    description: patch.description,
    idempotency_key: input.idempotencyKey,
    body_hash: input.bodyHash,
    payload: input.patchJson ?? JSON.stringify(patch),
    attempts: 0,
    lease_token: null,
    lease_owner: null,
    lease_expires_at: null,
    result: null,
    error: null,
    created_at: now,
    updated_at: now,
    started_at: null,
    finished_at: null,
    submitted_by: input.submittedBy ?? null,
    cancelled_by: null,
  }
}

/** Commits a batch of enqueues (group-commit.ts gathers them): one IMMEDIATE transaction, a savepoint per item. */
export function prepareEnqueue(db: Database.Database, { counters, events, get, logger }: EnqueueDeps) {
  const byKey = db.prepare<[string], { id: string; body_hash: string }>('SELECT id, body_hash FROM patches WHERE idempotency_key = ?')
  const insert = db.prepare<[InsertPatch]>(
    `INSERT INTO patches (id, seq, target, lane_seq, status, client_id, format, description, idempotency_key,
       body_hash, payload, attempts, created_at, updated_at, submitted_by)
     VALUES (@id, @seq, @target, @lane_seq, 'queued', @client_id, @format, @description, @idempotency_key,
       @body_hash, @payload, 0, @now, @now, @submitted_by)`,
  )

  function enqueueOne(input: EnqueueInput, seq: number, laneSeq: number): EnqueueResult {
    if (input.idempotencyKey !== null) {
      const prior = byKey.get(input.idempotencyKey)
      if (prior) return { outcome: prior.body_hash === input.bodyHash ? 'duplicate' : 'conflict', record: get.loadSeen(prior.id) }
    }
    const now = Date.now()
    const row = queuedRow(input, seq, laneSeq, now)
    insert.run({ ...row, now })
    const event = { patch_id: input.id, at: now, status: 'queued', reason: 'enqueued', detail: row.submitted_by } as const
    events.record(event)
    return { outcome: 'created', record: queuedRecord(input, now) }
  }

  /**
   * Numbers every item of the batch up front, in order: its global seq and its lane's next
   * number. An item that stores nothing (a repeated key, an error rolled back to its savepoint)
   * leaves a gap, which claims and lists do not mind: they order by these numbers, never count them.
   */
  function numbering(items: EnqueueInput[]): (input: EnqueueInput) => { seq: number; laneSeq: number } {
    const perLane = new Map<string, number>()
    for (const { patch } of items) perLane.set(patch.target, (perLane.get(patch.target) ?? 0) + 1)
    const laneNext = new Map<string, number>()
    for (const [target, n] of perLane) laneNext.set(target, counters.reserveLane(target, n) - n + 1)
    let seq = counters.reserve('patch_seq', items.length) - items.length + 1
    return ({ patch }) => {
      const laneSeq = laneNext.get(patch.target)!
      laneNext.set(patch.target, laneSeq + 1)
      return { seq: seq++, laneSeq }
    }
  }

  const one = db.transaction(enqueueOne)
  return (items: EnqueueInput[]): ItemOutcome<EnqueueResult>[] => {
    const started = performance.now()
    const outcomes = db
      .transaction(() => {
        const next = numbering(items)
        return items.map((input): ItemOutcome<EnqueueResult> => {
          const { seq, laneSeq } = next(input)
          try {
            return { ok: true, value: one(input, seq, laneSeq) }
          } catch (error) {
            // Some errors (disk full, I/O) make SQLite roll back the whole transaction; then no
            // item of the batch may report success.
            if (!db.inTransaction) throw error
            return { ok: false, error }
          }
        })
      })
      .immediate()
    logger?.debug({ batch: items.length, ms: Math.round(performance.now() - started) }, 'enqueue batch committed')
    return outcomes
  }
}
