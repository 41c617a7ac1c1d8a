import type Database from 'better-sqlite3'
import type { NotificationDelivery } from '../../schemas/notification.js'
import type { PatchError, PatchRecord, PatchResult } from '../../schemas/record.js'
import { completed, failed } from '../adapter/finish.js'
import { checkSchema, storeClosed } from '../adapter/guards.js'
import { Subscriptions } from '../adapter/outbox.js'
import { EMPTY_PAGE, pageBounds } from '../adapter/paging.js'
import { PatchChanges, type PatchChangeListener } from '../changes.js'
import type { StoreLogger } from '../logger.js'
import type { ClaimDeliveriesOptions, DeliveryJob, DeliveryOutcome, NotificationSubscription } from '../port/outbox.js'
import type { CancelResult, ClaimedPatch, ClaimOptions, EnqueueInput, EnqueueResult, ListPage, ListQuery, ReapOptions, TargetCounts } from '../port/queue.js'
import type { RunnerInfo } from '../port/registry.js'
import type { HistoryFill } from '../port/history.js'
import type { PruneOptions } from '../port/retention.js'
import type { StatusTotal } from '../port/totals.js'
import type { Store } from '../port.js'
import { GroupCommit, type GroupCommitStats } from './group-commit.js'
import { DataVersionWatch } from './listener.js'
import { runMigrations, schemaVersion } from './migrations.js'
import { LATEST_VERSION } from './schema.js'
import { prepareStatements, type Statements } from './statements.js'

export interface SqliteStore extends Store {
  readonly kind: 'sqlite'
  readonly file: string
  /** How enqueues were grouped into transactions so far (one fsync per batch). */
  groupCommitStats(): GroupCommitStats
}

export interface SqliteStoreInit {
  db: Database.Database
  file: string
  logger?: StoreLogger
  maxBatch: number
  /** While anyone follows changes, how often to look for commits by other connections. */
  watchMs: number
  subscriptions?: readonly NotificationSubscription[]
}

/**
 * Every operation is one short synchronous transaction (each concern's in its file, composed by
 * statements.ts). Writers use BEGIN IMMEDIATE so that another process holding the write lock
 * makes us wait (busy_timeout) instead of failing a read-then-write upgrade; no correctness
 * depends on state held in this process. This class checks the store is open, and announces
 * each transition once it committed.
 */
export class SqliteStoreImpl implements SqliteStore {
  readonly kind = 'sqlite' as const
  readonly file: string
  private readonly db: Database.Database
  private readonly logger: StoreLogger | undefined
  private readonly batcher: GroupCommit<EnqueueInput, EnqueueResult>
  private prepared: Statements | null = null
  private subscriptions: Subscriptions
  private closed = false
  private readonly changes: PatchChanges
  private readonly watch: DataVersionWatch

  constructor(init: SqliteStoreInit) {
    this.db = init.db
    this.file = init.file
    this.logger = init.logger
    this.batcher = new GroupCommit((items) => this.st.commitBatch(items), init.maxBatch)
    this.changes = new PatchChanges(init.logger)
    this.watch = new DataVersionWatch(init.db, init.watchMs, () => this.changes.emit(null), init.logger)
    this.subscriptions = new Subscriptions(init.subscriptions)
  }

  // Prepared on first use rather than at open, so a store opened without migrating can still
  // run migrate() before its tables exist.
  private get st(): Statements {
    if (this.closed) throw storeClosed()
    if (!this.prepared) {
      checkSchema(schemaVersion(this.db), LATEST_VERSION)
      this.prepared = prepareStatements(this.db, { subscriptions: () => this.subscriptions, logger: this.logger })
    }
    return this.prepared
  }

  /** Announces a committed transition to this process's followers; passes `done` on. */
  private announce(id: string, done: boolean): boolean {
    if (done) this.changes.emit(id)
    return done
  }

  onPatchChanged(listener: PatchChangeListener): () => void {
    if (this.closed) throw storeClosed()
    const unsubscribe = this.changes.subscribe(listener)
    this.watch.start()
    return () => {
      unsubscribe()
      if (this.changes.size === 0) this.watch.stop()
    }
  }

  async migrate(): Promise<void> {
    if (this.closed) throw storeClosed()
    runMigrations(this.db, this.logger)
  }

  enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    if (this.closed) return Promise.reject(storeClosed())
    const result = this.batcher.push(input)
    result.then(
      (r) => r.outcome === 'created' && this.changes.emit(r.record.id),
      () => undefined,
    )
    return result
  }

  groupCommitStats(): GroupCommitStats {
    return { ...this.batcher.stats }
  }

  async claim(runnerId: string, opts: ClaimOptions): Promise<ClaimedPatch | null> {
    const claimed = this.st.claim(runnerId, opts)
    if (claimed) this.changes.emit(claimed.record.id)
    return claimed
  }

  async heartbeat(id: string, token: number, leaseMs: number, now?: number): Promise<boolean> {
    return this.st.leases.heartbeat(id, token, leaseMs, now)
  }

  async complete(id: string, token: number, result: PatchResult): Promise<boolean> {
    return this.announce(id, this.st.leases.finish(completed(id, token, result)))
  }

  async fail(id: string, token: number, status: 'failed' | 'rejected', error: PatchError, result: PatchResult | null): Promise<boolean> {
    return this.announce(id, this.st.leases.finish(failed(id, token, status, error, result)))
  }

  async release(id: string, token: number, reason: string, detail?: string, opts: { attempted?: boolean } = {}): Promise<boolean> {
    return this.announce(id, this.st.leases.release(id, token, reason, detail ?? null, opts.attempted !== false))
  }

  async reapExpired(opts: ReapOptions): Promise<number> {
    const reaped = this.st.leases.reap(opts)
    for (const id of reaped) this.changes.emit(id)
    if (reaped.length > 0) this.logger?.warn({ reaped: reaped.length }, 'expired patch leases reaped')
    return reaped.length
  }

  async get(id: string): Promise<PatchRecord | null> {
    return this.st.get(id)
  }

  async list(query: ListQuery): Promise<ListPage> {
    const bounds = pageBounds(query)
    if (bounds.targets === null) return EMPTY_PAGE
    return this.st.list(query, { before: bounds.before, targets: bounds.targets })
  }

  async cancel(id: string, reason?: string, cancelledBy?: string | null): Promise<CancelResult> {
    const result = this.st.cancel(id, reason ?? 'cancelled', cancelledBy ?? null)
    if (result.outcome === 'cancelled') this.changes.emit(id)
    return result
  }

  async runnerHeartbeat(runner: Omit<RunnerInfo, 'last_seen'>, now?: number): Promise<void> {
    this.st.registry.heartbeat(runner, now)
  }

  async runners(): Promise<RunnerInfo[]> {
    return this.st.registry.runners()
  }

  async counts(): Promise<TargetCounts[]> {
    return this.st.totals.counts()
  }

  async queuedTotal(): Promise<number> {
    return this.st.totals.queued()
  }

  async totals(): Promise<StatusTotal[]> {
    return this.st.totals.all()
  }

  async prune(opts: PruneOptions): Promise<number> {
    const pruned = this.st.retention.prune(opts)
    if (pruned > 0) this.changes.emit(null)
    return pruned
  }

  async fillHistory(fill: HistoryFill): Promise<void> {
    this.st.history(fill)
  }

  async reclaim(pages: number): Promise<number> {
    return this.st.retention.reclaim(pages)
  }

  async ping(): Promise<void> {
    this.st.ping()
  }

  setSubscriptions(subscriptions: readonly NotificationSubscription[]): void {
    this.subscriptions = new Subscriptions(subscriptions)
  }

  async claimDeliveries(opts: ClaimDeliveriesOptions): Promise<DeliveryJob[]> {
    return this.st.deliveries.claim(opts)
  }

  async settleDelivery(id: string, owner: string, attempt: number, outcome: DeliveryOutcome, now?: number): Promise<boolean> {
    return this.st.deliveries.settle(id, owner, attempt, outcome, now)
  }

  async deliveries(patchId: string): Promise<NotificationDelivery[]> {
    return this.st.deliveries.ofPatch(patchId)
  }

  async close(): Promise<void> {
    if (this.closed) return
    // Enqueues already accepted must still commit: their callers are waiting on durability.
    this.batcher.flush()
    this.closed = true
    this.watch.stop()
    this.db.close()
  }
}
