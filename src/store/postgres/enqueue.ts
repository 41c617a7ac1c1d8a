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

export type KeyedRow = PatchRow & { idempotency_key: string; body_hash: string }
/** What the insert returns of each row it stored: the rest of the record is the input. */
type CreatedRow = { id: string; created_at: Date }

const answer = (row: KeyedRow, input: EnqueueInput): EnqueueResult => ({
  outcome: row.body_hash === input.bodyHash ? 'duplicate' : 'conflict',
  record: toRecord(row),
})

/** Reads the stored rows of these idempotency keys, on the store's pool and under its deadline. */
export type KeyLookup = (keys: string[]) => Promise<KeyedRow[]>

/** Answers every waiter whose key is stored already; returns the others. */
async function answerRepeats(lookUp: KeyLookup, batch: Waiter[]): Promise<Waiter[]> {
  const keys = batch.flatMap((w) => (w.input.idempotencyKey === null ? [] : [pgText(w.input.idempotencyKey)]))
  if (keys.length === 0) return batch
  const stored = new Map((await lookUp(keys)).map((r) => [r.idempotency_key, r]))
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
 * Whether an error says the statement did not commit. A statement run on its own commits as it
 * ends, so an ERROR from it (a constraint, a deferred trigger refusing at commit, a cancel) means
 * it was rolled back. Anything else (a FATAL such as an administrator's shutdown, a lost or
 * frozen link, the client-side timeout) may have come after the commit.
 */
const refused = (error: unknown) => error instanceof pg.DatabaseError && error.severity === 'ERROR'

/**
 * Stores a batch of enqueues with one statement on `client`, committed as it ends (autocommit):
 * one round trip, and the lane lock the insert takes is held only while the server runs it and
 * flushes the commit, never across the network. Durable when a waiter is answered: the commit
 * follows synchronous_commit as the server has it (on by default). A repeat of a stored key
 * inserts nothing and is answered from the stored row after the commit (`lookUp`, one more
 * round trip, only when the batch held one).
 *
 * Once the statement is sent its outcome can no longer be recalled: a caller whose deadline
 * passes before the answer is told its patch may be stored (EnqueueUncertainError, naming it),
 * as is every waiter when the answer never comes. An ERROR stored nothing: a batch of several
 * returns its waiters marked solo, so only the offending call fails (e.g. a reused id); a lone
 * waiter gets the error. Any error is rethrown, and the caller then drops the connection.
 */
export async function storeBatch(client: pg.PoolClient, sql: EnqueueSql, waiters: Waiter[], subs: Subscriptions, lookUp: KeyLookup): Promise<void> {
  // A caller answered while the batch waited for its connection is left out (and settled: the
  // store waits for every operation before it closes). No timer runs between this look and the
  // send below, so no caller is told "not stored" once its patch is on the wire.
  const batch = waiters.filter((w) => !w.op.state.aborted)
  for (const w of waiters) if (w.op.state.aborted) w.reject(w.op.state.reason)
  if (batch.length === 0) return
  const ms = batch[0]!.op.queryTimeoutMs
  for (const w of batch) w.op.uncertain = () => new EnqueueUncertainError(w.input.id)
  let rows: CreatedRow[]
  try {
    rows = (await client.query<CreatedRow>(timed({ ...sql.insert, values: insertValues(batch, subs) }, ms))).rows
  } catch (error) {
    if (!refused(error)) {
      for (const w of batch) w.reject(new EnqueueUncertainError(w.input.id, { cause: error }))
    } else if (batch.length > 1) {
      for (const w of batch) w.solo = true
      throw new RetryAlone(batch, error)
    } else {
      batch[0]!.reject(error)
    }
    throw error
  } finally {
    // The statement's outcome is known from here: a deadline passing later (during a repeat's
    // look-up) stored nothing uncertain.
    for (const w of batch) w.op.uncertain = null
  }
  const created = new Map(rows.map((r) => [r.id, r]))
  const repeats = batch.filter((w) => {
    const row = created.get(pgText(w.input.id))
    if (row) w.resolve({ outcome: 'created', record: queuedRecord(w.input, row.created_at.getTime(), pgText) })
    return !row
  })
  // Keys stored before, or committed by a concurrent enqueue during the insert.
  const missing = await answerRepeats(lookUp, repeats)
  for (const w of missing) w.reject(new Error(`idempotency key ${JSON.stringify(w.input.idempotencyKey)} conflicted but is not stored`))
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
