import type { NotificationDelivery } from '../../schemas/notification.js'
import { outcomeColumns } from '../adapter/outbox.js'
import type { DeliveryColumns } from '../adapter/rows.js'
import type { ClaimDeliveriesOptions, DeliveryJob, DeliveryOutcome } from '../port/outbox.js'
import { now } from './clock.js'
import { prepared, type Db } from './prepared.js'
import { instantParam, mappers, pgText } from './rows.js'

/**
 * The outbox CTE a transition statement adds: one delivery per event row of CTE `ev` (columns
 * patch_id, at, status, reason, detail) and subscription that wants its status. `urls` and
 * `statuses` name two parallel text[] parameters holding the (url, status) pairs, empty when
 * nothing is subscribed: then the join is empty and the CTE inserts nothing. The id has the
 * shape of newDeliveryId() (../outbox.ts).
 */
export const outboxCte = (s: string, ev: string, urls: string, statuses: string) => `
  outbox AS (
    INSERT INTO ${s}.deliveries (id, patch_id, url, event, reason, detail, at, next_attempt_at, created_at, updated_at)
    SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), e.patch_id, sub.url, e.status, e.reason, e.detail, e.at, e.at, e.at, e.at
    FROM ${ev} e JOIN unnest(${urls}::text[], ${statuses}::text[]) AS sub(url, status) ON sub.status = e.status
  )`

/**
 * $1 owner, $2 urls (text[]), $3 limit, $4 lease ms, $5 now (or null). SKIP LOCKED lets several
 * dispatchers claim at once without waiting on each other; a row another one claimed after this
 * statement's snapshot is re-checked against its newest version, where it is no longer due. A
 * delivery waits while an earlier one of its patch to its URL is pending, so a receiver sees one
 * patch's transitions in order.
 */
export const claimDeliveriesSql = (s: string) => `
  WITH t AS (SELECT ${now('$5')} AS now),
  due AS (
    SELECT d.seq FROM ${s}.deliveries d, t
    WHERE d.state = 'pending' AND d.next_attempt_at <= t.now AND d.url = ANY ($2::text[])
      AND NOT EXISTS (SELECT 1 FROM ${s}.deliveries o
                      WHERE o.patch_id = d.patch_id AND o.url = d.url AND o.state = 'pending' AND o.seq < d.seq)
    ORDER BY d.next_attempt_at, d.seq
    LIMIT $3
    FOR UPDATE OF d SKIP LOCKED
  ),
  claimed AS (
    UPDATE ${s}.deliveries d
    SET attempts = d.attempts + 1, lease_owner = $1, next_attempt_at = t.now + $4::float8 * interval '1 millisecond', updated_at = t.now
    FROM due, t
    WHERE d.seq = due.seq
    RETURNING d.seq, d.id, d.url, d.attempts, d.patch_id, d.event, d.reason, d.detail, d.at
  )
  SELECT c.id, c.url, c.attempts, c.patch_id, c.event, c.reason, c.detail, c.at, p.target, p.client_id, p.result, p.error
  FROM claimed c JOIN ${s}.patches p ON p.id = c.patch_id
  ORDER BY c.seq`

/**
 * $1 id, $2 owner, $3 attempt, $4 state, $5 http status, $6 error, $7 ms until the next attempt
 * (null: none), $8 now (or null), $9 attempts not to count (0 or 1). The database's clock, as for claims, so dispatchers on
 * machines whose clocks differ still wait the backoff they computed.
 */
export const settleDeliverySql = (s: string) => `
  WITH t AS (SELECT ${now('$8')} AS now)
  UPDATE ${s}.deliveries
  SET state = $4, last_status = $5, last_error = $6, next_attempt_at = t.now + $7::float8 * interval '1 millisecond',
    attempts = attempts - $9::int, lease_owner = NULL, updated_at = t.now
  FROM t
  WHERE id = $1 AND state = 'pending' AND lease_owner = $2 AND attempts = $3`

export const deliveriesSql = (s: string) => `
  SELECT id, url, event, state, attempts, last_status, last_error, next_attempt_at, created_at, updated_at
  FROM ${s}.deliveries WHERE patch_id = $1 ORDER BY seq`

type DeliveryRow = DeliveryColumns<Date>
type JobRow = Omit<DeliveryJob, 'attempt' | 'status' | 'at'> & { attempts: number; event: DeliveryJob['status']; at: Date }

const { toDelivery, toJob } = mappers

/** The outbox (see OutboxPort); each transition statement writes its rows through outboxCte. */
export function deliveryOps(s: string, db: Db) {
  const st = { claim: prepared(claimDeliveriesSql(s)), settle: prepared(settleDeliverySql(s)), ofPatch: prepared(deliveriesSql(s)) }
  return {
    claim: async (opts: ClaimDeliveriesOptions): Promise<DeliveryJob[]> => {
      if (opts.urls.length === 0) return []
      const values = [pgText(opts.owner), opts.urls, opts.limit, opts.leaseMs, instantParam(opts.now)]
      return (await db.exec<JobRow>(st.claim, values)).rows.map(toJob)
    },
    settle: async (id: string, owner: string, attempt: number, outcome: DeliveryOutcome, at?: number): Promise<boolean> => {
      const c = outcomeColumns(outcome)
      const values = [pgText(id), pgText(owner), attempt, c.state, c.status, c.error === null ? null : pgText(c.error), c.retryInMs, instantParam(at), c.uncount]
      return (await db.exec(st.settle, values)).rowCount === 1
    },
    ofPatch: async (patchId: string): Promise<NotificationDelivery[]> => (await db.exec<DeliveryRow>(st.ofPatch, [pgText(patchId)])).rows.map(toDelivery),
  }
}
