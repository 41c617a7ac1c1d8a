import type pg from 'pg'
import type { NotificationDelivery } from '../../schemas/notification.js'
import type { PatchError, PatchRecord, PatchResult } from '../../schemas/record.js'
import { completed, failed, type Finish } from '../adapter/finish.js'
import { checkSchema, storeClosed } from '../adapter/guards.js'
import { Subscriptions } from '../adapter/outbox.js'
import { EMPTY_PAGE, pageBounds } from '../adapter/paging.js'
import { PatchChanges, type PatchChangeListener } from '../changes.js'
import type { StoreLogger } from '../logger.js'
import type { HistoryFill } from '../port/history.js'
import type { ClaimDeliveriesOptions, DeliveryJob, DeliveryOutcome, NotificationSubscription } from '../port/outbox.js'
import type { CancelResult, ClaimedPatch, ClaimOptions, EnqueueInput, EnqueueResult, ListPage, ListQuery, ReapOptions, TargetCounts } from '../port/queue.js'
import type { RunnerInfo } from '../port/registry.js'
import type { PruneOptions } from '../port/retention.js'
import type { StatusTotal } from '../port/totals.js'
import type { Store } from '../port.js'
import { Operations } from './deadline.js'
import { enqueueSql } from './enqueue-sql.js'
import type { KeyedRow } from './enqueue.js'
import type { Db } from './prepared.js'
import { EnqueueGroupCommit, type GroupCommitOptions, type GroupCommitStats } from './group-commit.js'
import { fillHistory } from './history.js'
import type { PatchQueuedListener, PatchSubscriber } from './listener.js'
import { runMigrations, schemaVersion } from './migrations.js'
import type { PatchNotifier } from './notify.js'
import { timed } from './pool.js'
import { LATEST_VERSION } from './schema.js'
import { prepareStatements, type Statements } from './statements.js'

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
  /** How enqueues were grouped into transactions so far (one commit per batch). */
  groupCommitStats(): GroupCommitStats
}

export interface PostgresStoreInit {
  pool: pg.Pool
  /** The connections enqueue batches are sent on (index.ts). */
  enqueuePool: pg.Pool
  schema: string
  /** The schema name quoted for SQL text. */
  qualified: string
  /** The NOTIFY channels of the schema (see identifiers.ts). */
  channels: { queued: string; changed: string }
  notifier: PatchNotifier
  subscriber: PatchSubscriber
  logger?: StoreLogger
  /** How long an operation (a migration aside) may take before it fails with StoreDeadlineError. */
  deadlineMs: number
  groupCommit: GroupCommitOptions
  subscriptions?: readonly NotificationSubscription[]
}

/**
 * Every operation is one statement (each concern's in its file, composed by statements.ts),
 * committed on its own (autocommit), so no connection is held across round trips and no
 * transaction outlives a request. Nothing in this process is authoritative: any number of
 * instances may share the schema. This class runs each operation under the store's deadline
 * (deadline.ts) and announces each transition once it committed.
 */
export class PostgresStoreImpl implements PostgresStore {
  readonly kind = 'postgres' as const
  readonly schema: string
  private readonly pool: pg.Pool
  private readonly enqueuePool: pg.Pool
  private readonly qualified: string
  private readonly st: Statements
  private readonly ops: Operations
  private readonly notifier: PatchNotifier
  private readonly subscriber: PatchSubscriber
  private readonly channels: { queued: string; changed: string }
  /** Followers in this process; fed by this store's own writes at once and by LISTEN for everyone's. */
  private readonly changes: PatchChanges
  private unlistenChanges: (() => void) | null = null
  private readonly logger: StoreLogger | undefined
  private subscriptions: Subscriptions
  private readonly batcher: EnqueueGroupCommit
  private closing: Promise<void> | null = null

  constructor(init: PostgresStoreInit) {
    this.pool = init.pool
    this.enqueuePool = init.enqueuePool
    this.schema = init.schema
    this.qualified = init.qualified
    this.notifier = init.notifier
    this.subscriber = init.subscriber
    this.channels = init.channels
    this.logger = init.logger
    this.changes = new PatchChanges(init.logger)
    this.subscriptions = new Subscriptions(init.subscriptions)
    this.ops = new Operations(init.deadlineMs, () => this.checkSchema())
    const deadlineMs = init.deadlineMs
    const db: Db = {
      exec: (stmt, values) => this.pool.query(timed({ ...stmt, values }, deadlineMs)),
      subscriptions: () => this.subscriptions,
    }
    this.st = prepareStatements(init.qualified, db)
    const sql = enqueueSql(init.qualified)
    const lookUp = async (keys: string[]) => (await db.exec<KeyedRow>(sql.byKeys, [keys])).rows
    this.batcher = new EnqueueGroupCommit(this.enqueuePool, sql, lookUp, () => this.subscriptions, init.groupCommit)
  }

  private async checkSchema(): Promise<void> {
    const version = await schemaVersion(this.pool, this.schema)
    if (checkSchema(version, LATEST_VERSION, this.schema) === 'newer') {
      this.logger?.warn({ schema: this.schema, version, supported: LATEST_VERSION }, 'store schema is newer than this build')
    }
  }

  groupCommitStats(): GroupCommitStats {
    return { ...this.batcher.stats }
  }

  get listening(): boolean {
    return this.subscriber.listening
  }

  /** Announces a committed status change: to this process now, to every instance through NOTIFY. */
  private changed(id: string): void {
    this.notifier.changed(id)
    this.changes.emit(id)
  }

  /** Passes `done` on, announcing patch `id` changed when it did. */
  private announce(id: string, done: boolean): boolean {
    if (done) this.changed(id)
    return done
  }

  // Instances starting together queue on the migration lock: no deadline here.
  migrate(): Promise<void> {
    return this.ops.run(
      async () => {
        await runMigrations(this.pool, this.schema, this.logger)
        this.ops.migrated()
      },
      { migration: true },
    )
  }

  enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    return this.ops.run(async (deadline) => {
      const res = await this.batcher.enqueue(input, deadline)
      if (res.outcome === 'created') {
        this.notifier.queued(res.record.target)
        this.changed(res.record.id)
      }
      return res
    })
  }

  onPatchQueued(listener: PatchQueuedListener): () => void {
    if (this.closing) throw storeClosed()
    return this.subscriber.subscribe(this.channels.queued, listener)
  }

  onPatchChanged(listener: PatchChangeListener): () => void {
    if (this.closing) throw storeClosed()
    const unsubscribe = this.changes.subscribe(listener)
    this.unlistenChanges ??= this.subscriber.subscribe(this.channels.changed, (id) => this.changes.emit(id))
    return () => {
      unsubscribe()
      if (this.changes.size > 0 || !this.unlistenChanges) return
      this.unlistenChanges()
      this.unlistenChanges = null
    }
  }

  claim(runnerId: string, opts: ClaimOptions): Promise<ClaimedPatch | null> {
    return this.ops.run(async () => {
      const claimed = await this.st.claim(runnerId, opts)
      if (claimed) this.changed(claimed.record.id)
      return claimed
    })
  }

  heartbeat(id: string, token: number, leaseMs: number, now?: number): Promise<boolean> {
    return this.ops.run(() => this.st.leases.heartbeat(id, token, leaseMs, now))
  }

  complete(id: string, token: number, result: PatchResult): Promise<boolean> {
    return this.finish(completed(id, token, result))
  }

  fail(id: string, token: number, status: 'failed' | 'rejected', error: PatchError, result: PatchResult | null): Promise<boolean> {
    return this.finish(failed(id, token, status, error, result))
  }

  private finish(f: Finish): Promise<boolean> {
    return this.ops.run(async () => this.announce(f.id, await this.st.leases.finish(f)))
  }

  release(id: string, token: number, reason: string, detail?: string, opts: { attempted?: boolean } = {}): Promise<boolean> {
    return this.ops.run(async () => this.announce(id, await this.st.leases.release(id, token, reason, detail ?? null, opts.attempted !== false)))
  }

  reapExpired(opts: ReapOptions): Promise<number> {
    return this.ops.run(async () => {
      const reaped = await this.st.leases.reap(opts)
      for (const id of reaped) this.changed(id)
      if (reaped.length > 0) this.logger?.warn({ reaped: reaped.length }, 'expired patch leases reaped')
      return reaped.length
    })
  }

  get(id: string): Promise<PatchRecord | null> {
    return this.ops.run(() => this.st.get(id))
  }

  list(query: ListQuery): Promise<ListPage> {
    let bounds: ReturnType<typeof pageBounds>
    try {
      bounds = pageBounds(query)
    } catch (error) {
      return Promise.reject(error)
    }
    const { before, targets } = bounds
    return this.ops.run(async () => (targets === null ? EMPTY_PAGE : this.st.list(query, { before, targets })))
  }

  cancel(id: string, reason?: string, cancelledBy?: string | null): Promise<CancelResult> {
    return this.ops.run(async () => {
      const result = await this.st.cancel(id, reason ?? 'cancelled', cancelledBy ?? null)
      if (result.outcome === 'cancelled') this.changed(id)
      return result
    })
  }

  runnerHeartbeat(runner: Omit<RunnerInfo, 'last_seen'>, now?: number): Promise<void> {
    if (Number.isNaN(Date.parse(runner.started_at))) return Promise.reject(new RangeError(`runner started_at is not a date: ${runner.started_at}`))
    return this.ops.run(() => this.st.registry.heartbeat(runner, now))
  }

  runners(): Promise<RunnerInfo[]> {
    return this.ops.run(() => this.st.registry.runners())
  }

  queuedTotal(): Promise<number> {
    return this.ops.run(() => this.st.totals.queued())
  }

  totals(): Promise<StatusTotal[]> {
    return this.ops.run(() => this.st.totals.all())
  }

  counts(): Promise<TargetCounts[]> {
    return this.ops.run(() => this.st.totals.counts())
  }

  prune(opts: PruneOptions): Promise<number> {
    return this.ops.run(async () => {
      const pruned = await this.st.prune(opts)
      // Followers of a pruned patch read it again and find it gone.
      if (pruned > 0) this.changes.emit(null)
      return pruned
    })
  }

  /** Bulk work with no deadline: see HistoryPort. */
  async fillHistory(fill: HistoryFill): Promise<void> {
    await this.ops.ensureSchema()
    await fillHistory(this.pool, this.qualified, fill)
  }

  ping(): Promise<void> {
    return this.ops.run(() => this.st.ping())
  }

  setSubscriptions(subscriptions: readonly NotificationSubscription[]): void {
    this.subscriptions = new Subscriptions(subscriptions)
  }

  claimDeliveries(opts: ClaimDeliveriesOptions): Promise<DeliveryJob[]> {
    return this.ops.run(() => this.st.deliveries.claim(opts))
  }

  settleDelivery(id: string, owner: string, attempt: number, outcome: DeliveryOutcome, now?: number): Promise<boolean> {
    return this.ops.run(() => this.st.deliveries.settle(id, owner, attempt, outcome, now))
  }

  deliveries(patchId: string): Promise<NotificationDelivery[]> {
    return this.ops.run(() => this.st.deliveries.ofPatch(patchId))
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.ops.close()
      await this.notifier.drain()
      this.unlistenChanges = null
      await this.subscriber.stop()
      await Promise.all([this.pool.end(), this.enqueuePool.end()])
    })()
    return this.closing
  }
}
