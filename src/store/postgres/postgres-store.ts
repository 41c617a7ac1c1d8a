import type pg from 'pg'
import type { NotificationDelivery } from '../../schemas/notification.js'
import type { PatchError, PatchRecord, PatchResult } from '../../schemas/record.js'
import { decodeCursor, encodeCursor } from '../ids.js'
import { outcomeColumns, Subscriptions } from '../outbox.js'
import type {
  CancelResult,
  ClaimDeliveriesOptions,
  ClaimedPatch,
  DeliveryJob,
  DeliveryOutcome,
  EnqueueInput,
  EnqueueResult,
  ListPage,
  ListQuery,
  NotificationSubscription,
  ReapOptions,
  RunnerInfo,
  Store,
  TargetCounts,
} from '../port.js'
import { claimSql } from './claim.js'
import { claimDeliveriesSql, deliveriesSql, settleDeliverySql, toDelivery, toJob, type DeliveryRow, type JobRow } from './deliveries.js'
import { enqueue, enqueueSql, type EnqueueSql } from './enqueue.js'
import { finishSql, heartbeatSql, reapSql, releaseSql } from './leases.js'
import type { PatchQueuedListener, PatchSubscriber } from './listener.js'
import type { StoreLogger } from './logger.js'
import { runMigrations, schemaVersion } from './migrations.js'
import type { PatchNotifier } from './notify.js'
import { cancelSql, countsSql, getSql, listSql, pingSql, queuedTotalSql, runnerHeartbeatSql, runnersSql } from './queries.js'
import { instantParam, pgText, toCounts, toRecord, toRunner, toSummary, type ClaimAttemptRow, type CountRow, type PatchRow, type RunnerRow, type SummaryRow } from './rows.js'
import { prepared, type Statement } from './prepared.js'
import { LATEST_VERSION } from './schema.js'

// A lost race costs a round trip; more than a few in a row means heavy contention on every
// lane, and the caller's next poll is as good as another try.
const CLAIM_ATTEMPTS = 3

export interface PostgresStore extends Store {
  readonly kind: 'postgres'
  readonly schema: string
  /**
   * Calls `listener` when a patch is queued by any instance on this database (LISTEN/NOTIFY on
   * a dedicated connection). Returns the unsubscribe function. A wake-up only: runners still poll.
   */
  onPatchQueued(listener: PatchQueuedListener): () => void
  /** True while the notification connection is LISTENing. */
  readonly listening: boolean
}

export interface PostgresStoreInit {
  pool: pg.Pool
  schema: string
  /** The schema name quoted for SQL text. */
  qualified: string
  notifier: PatchNotifier
  subscriber: PatchSubscriber
  logger?: StoreLogger
}

interface Sql {
  enqueue: EnqueueSql
  claim: Statement
  heartbeat: Statement
  finish: Statement
  release: Statement
  reap: Statement
  get: Statement
  cancel: Statement
  counts: Statement
  queuedTotal: Statement
  runnerHeartbeat: Statement
  runners: Statement
  ping: Statement
  claimDeliveries: Statement
  settleDelivery: Statement
  deliveries: Statement
}

/**
 * Every operation is one statement, committed on its own (autocommit), so no connection is
 * held across round trips and no transaction outlives a request. Nothing in this process is
 * authoritative: any number of instances may share the schema.
 */
export class PostgresStoreImpl implements PostgresStore {
  readonly kind = 'postgres' as const
  readonly schema: string
  private readonly pool: pg.Pool
  private readonly qualified: string
  private readonly sql: Sql
  private readonly notifier: PatchNotifier
  private readonly subscriber: PatchSubscriber
  private readonly logger: StoreLogger | undefined
  private readonly inflight = new Set<Promise<unknown>>()
  private subscriptions = new Subscriptions()
  private schemaChecked: Promise<void> | null = null
  private closing: Promise<void> | null = null

  constructor(init: PostgresStoreInit) {
    this.pool = init.pool
    this.schema = init.schema
    this.qualified = init.qualified
    this.notifier = init.notifier
    this.subscriber = init.subscriber
    this.logger = init.logger
    const s = init.qualified
    this.sql = {
      enqueue: enqueueSql(s),
      claim: prepared(claimSql(s)),
      heartbeat: prepared(heartbeatSql(s)),
      finish: prepared(finishSql(s)),
      release: prepared(releaseSql(s)),
      reap: prepared(reapSql(s)),
      get: prepared(getSql(s)),
      cancel: prepared(cancelSql(s)),
      counts: prepared(countsSql(s)),
      queuedTotal: prepared(queuedTotalSql(s)),
      runnerHeartbeat: prepared(runnerHeartbeatSql(s)),
      runners: prepared(runnersSql(s)),
      ping: prepared(pingSql(s)),
      claimDeliveries: prepared(claimDeliveriesSql(s)),
      settleDelivery: prepared(settleDeliverySql(s)),
      deliveries: prepared(deliveriesSql(s)),
    }
  }

  private exec<R extends pg.QueryResultRow = pg.QueryResultRow>(stmt: Statement, values: unknown[]): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>({ ...stmt, values })
  }

  get listening(): boolean {
    return this.subscriber.listening
  }

  /**
   * Runs an operation unless the store is closing, and remembers it until it settles so that
   * close() can wait for it: an accepted enqueue must commit before the pool goes away.
   */
  private run<T>(op: () => Promise<T>, checkSchema = true): Promise<T> {
    if (this.closing) return Promise.reject(new Error('store is closed'))
    const result = checkSchema ? this.ensureSchema().then(op) : op()
    const settled = result.then(
      () => undefined,
      () => undefined,
    )
    this.inflight.add(settled)
    void settled.then(() => this.inflight.delete(settled))
    return result
  }

  // Checked once per store (not at open), so a store opened without migrating can still run
  // migrate() first; a failed check (database down) is retried by the next call.
  private ensureSchema(): Promise<void> {
    if (!this.schemaChecked) {
      const check = schemaVersion(this.pool, this.schema).then((version) => {
        if (version < LATEST_VERSION) {
          throw new Error(`store schema ${this.schema} is at version ${version}, this build needs ${LATEST_VERSION}: run \`ghost-runner migrate\``)
        }
        if (version > LATEST_VERSION) this.logger?.warn({ schema: this.schema, version, supported: LATEST_VERSION }, 'store schema is newer than this build')
      })
      this.schemaChecked = check
      check.catch(() => {
        if (this.schemaChecked === check) this.schemaChecked = null
      })
    }
    return this.schemaChecked
  }

  migrate(): Promise<void> {
    return this.run(async () => {
      await runMigrations(this.pool, this.schema, this.logger)
      this.schemaChecked = Promise.resolve()
    }, false)
  }

  enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    return this.run(async () => {
      const res = await enqueue(this.pool, this.sql.enqueue, input, this.subscriptions)
      if (res.outcome === 'created') this.notifier.queued(res.record.target)
      return res
    })
  }

  onPatchQueued(listener: PatchQueuedListener): () => void {
    if (this.closing) throw new Error('store is closed')
    return this.subscriber.subscribe(listener)
  }

  claim(runnerId: string, opts: { targets: string[] | null; leaseMs: number; now?: number }): Promise<ClaimedPatch | null> {
    return this.run(async () => {
      if (opts.targets !== null && opts.targets.length === 0) return null
      const subs = this.subscriptions
      const values = [opts.targets?.map(pgText) ?? null, pgText(runnerId), instantParam(opts.now), opts.leaseMs, subs.urls, subs.statuses]
      for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
        const row = (await this.exec<ClaimAttemptRow>(this.sql.claim, values)).rows[0]
        if (!row) return null
        if (row.id !== null) return { record: toRecord(row), token: row.lease_token, leaseExpiresAt: row.lease_expires_at.getTime() }
        // The head picked from the snapshot was taken before the lane lock was: look again.
      }
      return null
    })
  }

  heartbeat(id: string, token: number, leaseMs: number, now?: number): Promise<boolean> {
    return this.run(async () => (await this.exec(this.sql.heartbeat, [pgText(id), token, instantParam(now), leaseMs])).rowCount === 1)
  }

  complete(id: string, token: number, result: PatchResult): Promise<boolean> {
    return this.finish(id, token, 'applied', result, null, 'completed', result.commit)
  }

  fail(id: string, token: number, status: 'failed' | 'rejected', error: PatchError, result: PatchResult | null): Promise<boolean> {
    return this.finish(id, token, status, result, error, error.code, error.message)
  }

  private finish(
    id: string,
    token: number,
    status: 'applied' | 'failed' | 'rejected',
    result: PatchResult | null,
    error: PatchError | null,
    reason: string,
    detail: string | null,
  ): Promise<boolean> {
    const json = (v: unknown) => (v === null ? null : JSON.stringify(v))
    const subs = this.subscriptions
    return this.run(async () => {
      const values = [pgText(id), token, status, json(result), json(error), pgText(reason), pgText(detail), subs.urls, subs.statuses]
      const res = await this.exec(this.sql.finish, values)
      return res.rowCount === 1
    })
  }

  release(id: string, token: number, reason: string, detail?: string, opts: { attempted?: boolean } = {}): Promise<boolean> {
    const subs = this.subscriptions
    return this.run(async () => {
      const values = [pgText(id), token, pgText(reason), pgText(detail ?? null), subs.urls, subs.statuses, opts.attempted !== false]
      return (await this.exec(this.sql.release, values)).rowCount === 1
    })
  }

  reapExpired(opts: ReapOptions): Promise<number> {
    return this.run(async () => {
      const subs = this.subscriptions
      const reaped = (await this.exec(this.sql.reap, [instantParam(opts.now), opts.maxAttempts, subs.urls, subs.statuses])).rowCount ?? 0
      if (reaped > 0) this.logger?.warn({ reaped }, 'expired patch leases reaped')
      return reaped
    })
  }

  get(id: string): Promise<PatchRecord | null> {
    return this.run(() => this.load(id))
  }

  private async load(id: string): Promise<PatchRecord | null> {
    const row = (await this.exec<PatchRow>(this.sql.get, [pgText(id)])).rows[0]
    return row ? toRecord(row) : null
  }

  list(query: ListQuery): Promise<ListPage> {
    if (!Number.isInteger(query.limit) || query.limit < 1) return Promise.reject(new RangeError(`limit must be a positive integer: ${query.limit}`))
    let before: number | undefined
    try {
      before = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.run(async () => {
      const { text, values } = listSql(this.qualified, { status: query.status, target: query.target, limit: query.limit, before })
      const rows = (await this.pool.query<SummaryRow>(text, values)).rows
      const page = rows.slice(0, query.limit)
      const last = page[page.length - 1]
      return { items: page.map(toSummary), next_cursor: rows.length > query.limit && last ? encodeCursor(last.seq) : null }
    })
  }

  cancel(id: string, reason?: string): Promise<CancelResult> {
    return this.run(async (): Promise<CancelResult> => {
      const subs = this.subscriptions
      const row = (await this.exec<PatchRow>(this.sql.cancel, [pgText(id), pgText(reason ?? 'cancelled'), subs.urls, subs.statuses])).rows[0]
      if (row) return { outcome: 'cancelled', record: toRecord(row) }
      const record = await this.load(id)
      return record ? { outcome: 'not_cancellable', record } : { outcome: 'not_found' }
    })
  }

  runnerHeartbeat(runner: Omit<RunnerInfo, 'last_seen'>, now?: number): Promise<void> {
    if (Number.isNaN(Date.parse(runner.started_at))) return Promise.reject(new RangeError(`runner started_at is not a date: ${runner.started_at}`))
    return this.run(async () => {
      await this.exec(this.sql.runnerHeartbeat, [
        pgText(runner.id),
        pgText(runner.host),
        runner.pid,
        new Date(runner.started_at).toISOString(),
        instantParam(now),
        JSON.stringify(runner.info),
      ])
    })
  }

  runners(): Promise<RunnerInfo[]> {
    return this.run(async () => (await this.exec<RunnerRow>(this.sql.runners, [])).rows.map(toRunner))
  }

  queuedTotal(): Promise<number> {
    return this.run(async () => Number((await this.exec<{ n: string | number }>(this.sql.queuedTotal, [])).rows[0]?.n ?? 0))
  }

  counts(): Promise<TargetCounts[]> {
    return this.run(async () => (await this.exec<CountRow>(this.sql.counts, [])).rows.map(toCounts))
  }

  ping(): Promise<void> {
    return this.run(async () => {
      await this.exec(this.sql.ping, [])
    })
  }

  setSubscriptions(subscriptions: readonly NotificationSubscription[]): void {
    this.subscriptions = new Subscriptions(subscriptions)
  }

  claimDeliveries(opts: ClaimDeliveriesOptions): Promise<DeliveryJob[]> {
    return this.run(async () => {
      if (opts.urls.length === 0) return []
      const values = [pgText(opts.owner), opts.urls, opts.limit, opts.leaseMs, instantParam(opts.now)]
      return (await this.exec<JobRow>(this.sql.claimDeliveries, values)).rows.map(toJob)
    })
  }

  settleDelivery(id: string, owner: string, attempt: number, outcome: DeliveryOutcome, now?: number): Promise<boolean> {
    const c = outcomeColumns(outcome)
    return this.run(async () => {
      const values = [pgText(id), pgText(owner), attempt, c.state, c.status, c.error === null ? null : pgText(c.error), c.retryInMs, instantParam(now), c.uncount]
      return (await this.exec(this.sql.settleDelivery, values)).rowCount === 1
    })
  }

  deliveries(patchId: string): Promise<NotificationDelivery[]> {
    return this.run(async () => (await this.exec<DeliveryRow>(this.sql.deliveries, [pgText(patchId)])).rows.map(toDelivery))
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.inflight)
      await this.notifier.drain()
      await this.subscriber.stop()
      await this.pool.end()
    })()
    return this.closing
  }
}
