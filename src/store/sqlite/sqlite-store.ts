import type Database from 'better-sqlite3'
import type { PatchError, PatchRecord, PatchResult, PatchStatus } from '../../schemas/record.js'
import { decodeCursor, encodeCursor } from '../ids.js'
import type { NotificationDelivery } from '../../schemas/notification.js'
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
import { VERIFY_ONLY_REASON } from '../port.js'
import { newDeliveryId, outcomeColumns, Subscriptions } from '../outbox.js'
import { toDelivery, toJob } from './deliveries.js'
import { GroupCommit, type GroupCommitStats, type ItemOutcome } from './group-commit.js'
import type { StoreLogger } from './logger.js'
import { LATEST_VERSION, runMigrations, schemaVersion } from './migrations.js'
import { toCounts, toRecord, toRunner, toSummary, type PatchRow } from './rows.js'
import { prepareStatements, type AddEvent, type Statements } from './statements.js'

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
}

/**
 * Every operation is one short synchronous transaction. Writers use BEGIN IMMEDIATE so that
 * another process holding the write lock makes us wait (busy_timeout) instead of failing a
 * read-then-write upgrade; no correctness depends on state held in this process.
 */
export class SqliteStoreImpl implements SqliteStore {
  readonly kind = 'sqlite' as const
  readonly file: string
  private readonly db: Database.Database
  private readonly logger: StoreLogger | undefined
  private readonly batcher: GroupCommit<EnqueueInput, EnqueueResult>
  private prepared: Statements | null = null
  private subscriptions = new Subscriptions()
  private closed = false

  constructor(init: SqliteStoreInit) {
    this.db = init.db
    this.file = init.file
    this.logger = init.logger
    this.batcher = new GroupCommit((items) => this.commitBatch(items), init.maxBatch)
  }

  // Prepared on first use rather than at open, so a store opened without migrating can still
  // run migrate() before its tables exist.
  private get st(): Statements {
    if (this.closed) throw new Error('store is closed')
    if (!this.prepared) {
      const version = schemaVersion(this.db)
      if (version < LATEST_VERSION) {
        throw new Error(`store schema is at version ${version}, this build needs ${LATEST_VERSION}: run \`ghost-runner migrate\``)
      }
      this.prepared = prepareStatements(this.db)
    }
    return this.prepared
  }

  /** Every transition goes through here: its event row, and the outbox rows it owes, in its transaction. */
  private event(st: Statements, e: AddEvent): void {
    st.addEvent.run(e)
    for (const url of this.subscriptions.urlsFor(e.status)) st.deliveries.insert.run({ id: newDeliveryId(), patch_id: e.patch_id, url, event: e.status, reason: e.reason, detail: e.detail, at: e.at })
  }

  async migrate(): Promise<void> {
    if (this.closed) throw new Error('store is closed')
    runMigrations(this.db, this.logger)
  }

  enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    if (this.closed) return Promise.reject(new Error('store is closed'))
    return this.batcher.push(input)
  }

  groupCommitStats(): GroupCommitStats {
    return { ...this.batcher.stats }
  }

  /** One IMMEDIATE transaction for the batch, a savepoint per item so one failure stays local. */
  private commitBatch(items: EnqueueInput[]): ItemOutcome<EnqueueResult>[] {
    const st = this.st
    const one = this.db.transaction((input: EnqueueInput) => this.enqueueOne(st, input))
    const started = performance.now()
    const outcomes = this.db
      .transaction(() =>
        items.map((input): ItemOutcome<EnqueueResult> => {
          try {
            return { ok: true, value: one(input) }
          } catch (error) {
            // Some errors (disk full, I/O) make SQLite roll back the whole transaction; then no
            // item of the batch may report success.
            if (!this.db.inTransaction) throw error
            return { ok: false, error }
          }
        }),
      )
      .immediate()
    this.logger?.debug({ batch: items.length, ms: Math.round(performance.now() - started) }, 'enqueue batch committed')
    return outcomes
  }

  private enqueueOne(st: Statements, input: EnqueueInput): EnqueueResult {
    if (input.idempotencyKey !== null) {
      const prior = st.byKey.get(input.idempotencyKey)
      if (prior) {
        const record = this.load(st, prior.id)
        if (!record) throw new Error(`patch ${prior.id} vanished inside its transaction`)
        return { outcome: prior.body_hash === input.bodyHash ? 'duplicate' : 'conflict', record }
      }
    }
    const { patch } = input
    const now = Date.now()
    const lane = st.nextLaneSeq.get(patch.target)
    const seq = st.nextCounter.get('patch_seq')
    if (!lane || !seq) throw new Error('counter upsert returned no row')
    const row: PatchRow = {
      id: input.id,
      seq: seq.value,
      target: patch.target,
      lane_seq: lane.next_seq,
      status: 'queued',
      client_id: patch.client_id,
      format: patch.format,
      description: patch.description,
      idempotency_key: input.idempotencyKey,
      body_hash: input.bodyHash,
      payload: JSON.stringify(patch),
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
    }
    st.insertPatch.run({ ...row, now })
    const event = { patch_id: input.id, at: now, status: 'queued', reason: 'enqueued', detail: null } as const
    this.event(st, event)
    // The record is what was just written, not read back: this is the webhook's hottest path,
    // and the conformance suite checks that get() reads the same.
    return { outcome: 'created', record: toRecord(row, [event]) }
  }

  private load(st: Statements, id: string): PatchRecord | null {
    const row = st.patch.get(id)
    return row ? toRecord(row, st.events.all(id)) : null
  }

  async claim(runnerId: string, opts: { targets: string[] | null; leaseMs: number; now?: number }): Promise<ClaimedPatch | null> {
    const st = this.st
    const now = opts.now ?? Date.now()
    const targets = opts.targets === null ? null : JSON.stringify(opts.targets)
    return this.db
      .transaction((): ClaimedPatch | null => {
        const head = st.head.get({ targets })
        if (!head) return null
        const token = st.nextCounter.get('lease_token')
        if (!token) throw new Error('counter upsert returned no row')
        const expires = now + opts.leaseMs
        st.markRunning.run({ id: head.id, token: token.value, owner: runnerId, expires, now })
        this.event(st, { patch_id: head.id, at: now, status: 'running', reason: 'claimed', detail: runnerId })
        const record = this.load(st, head.id)
        if (!record) throw new Error(`patch ${head.id} vanished inside its transaction`)
        return { record, token: token.value, leaseExpiresAt: expires }
      })
      .immediate()
  }

  async heartbeat(id: string, token: number, leaseMs: number, now?: number): Promise<boolean> {
    const expires = (now ?? Date.now()) + leaseMs
    return this.st.extendLease.run({ id, token, expires }).changes === 1
  }

  async complete(id: string, token: number, result: PatchResult): Promise<boolean> {
    return this.finish({ id, token, status: 'applied', result, error: null, reason: 'completed', detail: result.commit })
  }

  async fail(id: string, token: number, status: 'failed' | 'rejected', error: PatchError, result: PatchResult | null): Promise<boolean> {
    return this.finish({ id, token, status, result, error, reason: error.code, detail: error.message })
  }

  private finish(f: {
    id: string
    token: number
    status: 'applied' | 'failed' | 'rejected'
    result: PatchResult | null
    error: PatchError | null
    reason: string
    detail: string | null
  }): boolean {
    const st = this.st
    const now = Date.now()
    return this.db
      .transaction(() => {
        const changed = st.finish.run({
          id: f.id,
          token: f.token,
          status: f.status,
          result: f.result === null ? null : JSON.stringify(f.result),
          error: f.error === null ? null : JSON.stringify(f.error),
          now,
        }).changes
        if (changed !== 1) return false
        this.event(st, { patch_id: f.id, at: now, status: f.status, reason: f.reason, detail: f.detail })
        return true
      })
      .immediate()
  }

  async release(id: string, token: number, reason: string, detail?: string, opts: { attempted?: boolean } = {}): Promise<boolean> {
    const st = this.st
    const now = Date.now()
    return this.db
      .transaction(() => {
        if (st.requeue.run({ id, token, now, give_back: opts.attempted === false ? 1 : 0 }).changes !== 1) return false
        this.event(st, { patch_id: id, at: now, status: 'queued', reason, detail: detail ?? null })
        return true
      })
      .immediate()
  }

  async reapExpired(opts: ReapOptions): Promise<number> {
    const st = this.st
    const now = opts.now ?? Date.now()
    const reaped = this.db
      .transaction(() => {
        let n = 0
        for (const lease of st.expired.all(now)) {
          // Never failed here: the runner may have committed before it died (see Store.reapExpired).
          const reason = lease.attempts >= opts.maxAttempts ? VERIFY_ONLY_REASON : 'lease_expired'
          if (st.requeue.run({ id: lease.id, token: lease.lease_token, now, give_back: 0 }).changes !== 1) continue
          this.event(st, { patch_id: lease.id, at: now, status: 'queued', reason, detail: lease.lease_owner ?? 'unknown' })
          n += 1
        }
        return n
      })
      .immediate()
    if (reaped > 0) this.logger?.warn({ reaped }, 'expired patch leases reaped')
    return reaped
  }

  async get(id: string): Promise<PatchRecord | null> {
    const st = this.st
    // A read transaction keeps the row and its events on one snapshot while another process writes.
    return this.db.transaction(() => this.load(st, id))()
  }

  async list(query: ListQuery): Promise<ListPage> {
    if (!Number.isInteger(query.limit) || query.limit < 1) throw new RangeError(`limit must be a positive integer: ${query.limit}`)
    const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
    const filter = { status: query.status, target: query.target, before }
    const rows = this.st.list(filter).all({ ...filter, limit: query.limit + 1 })
    const page = rows.slice(0, query.limit)
    const last = page[page.length - 1]
    return {
      items: page.map(toSummary),
      next_cursor: rows.length > query.limit && last ? encodeCursor(last.seq) : null,
    }
  }

  async cancel(id: string, reason?: string): Promise<CancelResult> {
    const st = this.st
    const now = Date.now()
    return this.db
      .transaction((): CancelResult => {
        if (st.cancel.run({ id, now }).changes === 1) {
          this.event(st, { patch_id: id, at: now, status: 'cancelled' satisfies PatchStatus, reason: reason ?? 'cancelled', detail: null })
          const record = this.load(st, id)
          if (!record) throw new Error(`patch ${id} vanished inside its transaction`)
          return { outcome: 'cancelled', record }
        }
        const record = this.load(st, id)
        return record ? { outcome: 'not_cancellable', record } : { outcome: 'not_found' }
      })
      .immediate()
  }

  async runnerHeartbeat(runner: Omit<RunnerInfo, 'last_seen'>, now?: number): Promise<void> {
    const startedAt = Date.parse(runner.started_at)
    if (Number.isNaN(startedAt)) throw new RangeError(`runner started_at is not a date: ${runner.started_at}`)
    this.st.upsertRunner.run({
      id: runner.id,
      host: runner.host,
      pid: runner.pid,
      started_at: startedAt,
      last_seen: now ?? Date.now(),
      info: JSON.stringify(runner.info),
    })
  }

  async runners(): Promise<RunnerInfo[]> {
    return this.st.runners.all().map(toRunner)
  }

  async counts(): Promise<TargetCounts[]> {
    return this.st.counts.all().map(toCounts)
  }

  async queuedTotal(): Promise<number> {
    return this.st.queuedTotal.get()?.n ?? 0
  }

  async ping(): Promise<void> {
    const st = this.st
    this.db.transaction(() => st.nextCounter.get('ping')).immediate()
  }

  setSubscriptions(subscriptions: readonly NotificationSubscription[]): void {
    this.subscriptions = new Subscriptions(subscriptions)
  }

  async claimDeliveries(opts: ClaimDeliveriesOptions): Promise<DeliveryJob[]> {
    const ds = this.st.deliveries
    const now = opts.now ?? Date.now()
    const query = { now, urls: JSON.stringify(opts.urls), limit: opts.limit }
    // Polled often and mostly idle: look first without the write lock other processes contend for.
    if (opts.urls.length === 0 || !ds.due.get(query)) return []
    return this.db
      .transaction(() =>
        ds.due.all(query).flatMap(({ seq }) => {
          if (ds.claim.run({ seq, owner: opts.owner, until: now + opts.leaseMs, now }).changes !== 1) return []
          const row = ds.job.get(seq)
          return row ? [toJob(row)] : []
        }),
      )
      .immediate()
  }

  async settleDelivery(id: string, owner: string, attempt: number, outcome: DeliveryOutcome, now?: number): Promise<boolean> {
    const { retryInMs, ...columns } = outcomeColumns(outcome)
    const at = now ?? Date.now()
    const next = retryInMs === null ? null : at + retryInMs
    return this.st.deliveries.settle.run({ id, owner, attempt, ...columns, next, now: at }).changes === 1
  }

  async deliveries(patchId: string): Promise<NotificationDelivery[]> {
    return this.st.deliveries.ofPatch.all(patchId).map(toDelivery)
  }

  async close(): Promise<void> {
    if (this.closed) return
    // Enqueues already accepted must still commit: their callers are waiting on durability.
    this.batcher.flush()
    this.closed = true
    this.db.close()
  }
}
