import pg from 'pg'
import type { Subscriptions } from '../adapter/outbox.js'
import { queuedRecord } from '../adapter/rows.js'
import { EnqueueUncertainError } from '../errors.js'
import type { EnqueueInput, EnqueueResult } from '../port/queue.js'
import type { Deadlined } from './deadline.js'
import type { EnqueueSql } from './enqueue-sql.js'
import { timed } from './pool.js'
import { pgText, toRecord, type PatchRow } from './rows.js'

/** One caller's enqueue, waiting in a batch. */
export interface Waiter {
  input: EnqueueInput
  op: Deadlined
  resolve: (result: EnqueueResult) => void
  reject: (error: unknown) => void
  /** Committed in a batch of its own: a batch holding it failed on a constraint. */
  solo?: boolean
}

type KeyedRow = PatchRow & { idempotency_key: string; body_hash: string }
/** What the insert returns of each row it stored: the rest of the record is the input. */
type CreatedRow = { id: string; created_at: Date }

const answer = (row: KeyedRow, input: EnqueueInput): EnqueueResult => ({
  outcome: row.body_hash === input.bodyHash ? 'duplicate' : 'conflict',
  record: toRecord(row),
})

/** Answers every waiter whose key is stored already; returns the others. */
async function answerRepeats(client: pg.PoolClient, sql: EnqueueSql, batch: Waiter[], ms: number): Promise<Waiter[]> {
  const keys = batch.flatMap((w) => (w.input.idempotencyKey === null ? [] : [pgText(w.input.idempotencyKey)]))
  if (keys.length === 0) return batch
  const rows = (await client.query<KeyedRow>(timed({ ...sql.byKeys, values: [keys] }, ms))).rows
  const stored = new Map(rows.map((r) => [r.idempotency_key, r]))
  return batch.filter((w) => {
    const row = w.input.idempotencyKey === null ? undefined : stored.get(pgText(w.input.idempotencyKey))
    if (row) w.resolve(answer(row, w.input))
    return !row
  })
}

function insertValues(batch: Waiter[], subs: Subscriptions): unknown[] {
  const col = <T>(f: (i: EnqueueInput) => T) => batch.map((w) => f(w.input))
  return [
    col((i) => pgText(i.id)),
    col((i) => pgText(i.patch.target)),
    col((i) => pgText(i.patch.client_id)),
    col((i) => i.patch.format),
    col((i) => pgText(i.patch.description)),
    col((i) => pgText(i.idempotencyKey)),
    col((i) => i.bodyHash),
    // One JSON array of the serialised patches: no text-array escaping here, no array parsing on
    // the server, and json_array_elements checks each as json_in would.
    `[${col((i) => i.patchJson ?? JSON.stringify(i.patch)).join(',')}]`,
    col((i) => (i.submittedBy == null ? null : pgText(i.submittedBy))),
    subs.urls,
    subs.statuses,
  ]
}

/**
 * The batch's insert reaches rows only through conflict targets and primary keys (enqueue-sql.ts),
 * so its generic plan is kept instead of planning it for every batch, as every other statement
 * is (plan_cache_mode, pool.ts): planning was a fifth of the server's time under webhook load.
 */
const BEGIN = 'BEGIN; SET LOCAL plan_cache_mode = force_generic_plan'
/** The commit that also opens the next batch's transaction, when callers are already waiting for one. */
const COMMIT_THEN_BEGIN = `COMMIT; ${BEGIN}`

/** What a batch leaves on its connection. */
export interface BatchEnd {
  /** Waiters to try again in a new batch. */
  again: Waiter[]
  /** The connection holds an open, empty transaction begun for the next batch. */
  begun: boolean
}

/**
 * Whether an error from a query that carried COMMIT says that the commit did not happen. An
 * ERROR ends the message at the statement that raised it, and in the messages sent here only
 * COMMIT can raise one (BEGIN and a SET LOCAL of a constant cannot), so the transaction was
 * rolled back. Anything else (a FATAL such as an administrator's shutdown, a lost or frozen
 * link) may have come after the commit.
 */
const commitRefused = (error: unknown) => error instanceof pg.DatabaseError && error.severity === 'ERROR'

/**
 * Stores a batch of enqueues in one transaction on `client` and answers each waiter. Three
 * round trips: BEGIN, the insert (which also takes the lane numbers), COMMIT; two when `begun`
 * (the previous batch's COMMIT opened this transaction), which is the rule under load: when
 * `more()` says callers are waiting as the batch commits, the COMMIT message also begins the
 * next batch's transaction. The lane lock is held for one round trip and the commit. Durable when
 * a waiter is answered: the insert commits with synchronous_commit as the server has it (on by
 * default). A repeat of a stored key inserts nothing and is answered from the stored row after
 * the commit (one more round trip, only when the batch held one).
 *
 * COMMIT is sent only while every waiter of the transaction still waits: if any deadline passed
 * (that caller was answered 503), the transaction is rolled back and the others are returned, so
 * a patch never lands behind its caller's back. A failure between sending COMMIT and its answer
 * leaves the outcome open (commitRefused); each waiter is told so (EnqueueUncertainError,
 * naming its patch). A constraint error (e.g. a reused id) returns the batch's waiters marked
 * solo, so only the offending call fails. Any other error rejects the waiters and is rethrown:
 * the caller then drops the connection, which ends the open transaction without a commit.
 */
export async function storeBatch(
  client: pg.PoolClient,
  sql: EnqueueSql,
  batch: Waiter[],
  subs: Subscriptions,
  chain: { begun: boolean; more: () => boolean },
): Promise<BatchEnd> {
  const ms = batch[0]!.op.queryTimeoutMs
  let committing = false
  try {
    if (!chain.begun) await client.query(timed({ text: BEGIN }, ms))
    const rows = (await client.query<CreatedRow>(timed({ ...sql.insert, values: insertValues(batch, subs) }, ms))).rows
    if (batch.some((w) => w.op.state.aborted)) {
      await client.query(timed({ text: 'ROLLBACK' }, ms))
      // Settled too (its caller already has the deadline's answer): the store waits for every
      // operation to settle before it closes.
      for (const w of batch) if (w.op.state.aborted) w.reject(w.op.state.reason)
      return { again: batch.filter((w) => !w.op.state.aborted), begun: false }
    }
    committing = true
    for (const w of batch) w.op.uncertain = () => new EnqueueUncertainError(w.input.id)
    // A repeat is answered after the commit by a look-up that must not run in the next batch's
    // transaction (its generic plan is for the insert alone), so such a batch does not chain.
    const begun = rows.length === batch.length && chain.more()
    await client.query(timed({ text: begun ? COMMIT_THEN_BEGIN : 'COMMIT' }, ms))
    for (const w of batch) w.op.uncertain = null
    const created = new Map(rows.map((r) => [r.id, r]))
    const repeats = batch.filter((w) => {
      const row = created.get(pgText(w.input.id))
      if (row) w.resolve({ outcome: 'created', record: queuedRecord(w.input, row.created_at.getTime(), pgText) })
      return !row
    })
    // Keys stored before, or committed by a concurrent enqueue during the insert.
    const missing = await answerRepeats(client, sql, repeats, ms)
    for (const w of missing) w.reject(new Error(`idempotency key ${JSON.stringify(w.input.idempotencyKey)} conflicted but is not stored`))
    return { again: [], begun }
  } catch (error) {
    if (committing && !commitRefused(error)) {
      for (const w of batch) w.reject(new EnqueueUncertainError(w.input.id, { cause: error }))
    } else if (!committing && error instanceof pg.DatabaseError && batch.length > 1) {
      for (const w of batch) w.solo = true
      throw new RetryAlone(batch, error)
    } else {
      for (const w of batch) w.reject(error)
    }
    throw error
  }
}

/** A batch that failed on the database's word: each of its waiters is tried alone. */
export class RetryAlone extends Error {
  constructor(
    readonly waiters: Waiter[],
    cause: unknown,
  ) {
    super('a batch of enqueues failed; each is tried alone', { cause })
  }
}
