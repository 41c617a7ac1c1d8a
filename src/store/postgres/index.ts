import { changeChannel, DEFAULT_SCHEMA, patchChannel, qualifier } from './identifiers.js'
import { PatchSubscriber } from './listener.js'
import type { StoreLogger } from '../logger.js'
import type { NotificationSubscription } from '../port/outbox.js'
import { PatchNotifier } from './notify.js'
import { clientConfig, createPool, type PoolSettings } from './pool.js'
import { PostgresStoreImpl, type PostgresStore } from './store.js'

export type { PostgresStore } from './store.js'
export type { StoreLogger } from '../logger.js'

export const DEFAULT_DEADLINE_MS = 5000

export interface PostgresStoreOptions {
  /** postgres://user@host:port/database */
  connectionString: string
  logger?: StoreLogger
  /** Schema holding the tables, created by migrate() (default `ghost_runner`). */
  schema?: string
  /** application_name of every connection, as pg_stat_activity shows it (default `ghost-runner`). */
  applicationName?: string
  /** Most pooled connections (default 10); the LISTEN connection and one per enqueue batch in flight come on top. */
  poolSize?: number
  /**
   * How long any operation but a migration may take before it fails with StoreDeadlineError
   * (default 5000 ms), whatever the database link does: a frozen link answers with errors, not
   * hangs. An enqueue past it is never committed afterwards unless its statement was already
   * sent, and then its caller is told the patch may be stored (see enqueue.ts). Also the server's
   * idle_in_transaction_session_timeout.
   */
  deadlineMs?: number
  /**
   * How long an operation waits for a connection, new or from a full pool, before it fails
   * (default: the deadline): a database that is down or saturated answers with errors, not hangs.
   */
  connectTimeoutMs?: number
  /**
   * Server-side limit on one statement, sent as a startup parameter (default 30000 ms) with
   * idle_in_transaction_session_timeout and plan_cache_mode (pool.ts). null sends none of them
   * and keeps the server's settings; needed behind poolers that refuse startup parameters.
   */
  statementTimeoutMs?: number | null
  /** Most enqueues committed in one transaction (default 128). */
  maxBatch?: number
  /**
   * Enqueue batches in flight at once, each on a connection of its own (default 1). Batches to
   * one target queue on its lane lock anyway, and the callers that wait while a batch commits
   * leave together the moment it ends.
   */
  maxBatchesInFlight?: number
  /** Apply pending migrations while opening (default true). */
  migrate?: boolean
  /** What the outbox records deliveries for from the start (see OutboxPort.setSubscriptions). */
  subscriptions?: readonly NotificationSubscription[]
}

/** Opens a pool on the database; connects (and migrates) now unless `migrate` is false. */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresStore> {
  const schema = opts.schema ?? DEFAULT_SCHEMA
  const deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS
  const qualified = qualifier(schema)
  const settings: PoolSettings = {
    connectionString: opts.connectionString,
    applicationName: opts.applicationName ?? 'ghost-runner',
    max: opts.poolSize ?? 10,
    connectTimeoutMs: opts.connectTimeoutMs ?? deadlineMs,
    statementTimeoutMs: opts.statementTimeoutMs === undefined ? 30_000 : opts.statementTimeoutMs,
    idleInTransactionTimeoutMs: deadlineMs,
    logger: opts.logger,
  }
  const pool = createPool(settings)
  const maxFlights = opts.maxBatchesInFlight ?? 1
  // Enqueue batches have connections of their own: they keep one plan of their statement, and a
  // burst of reads holding the pool never makes a 202 wait for a connection. They stay open
  // between bursts: closed after pg's default 10 s, every webhook of an agent that posts less
  // often paid a new connection and a new plan (about 14 ms against 3 ms here). A connection
  // lost meanwhile is dropped by the pool as it goes ('error' on an idle client; see clientConfig
  // on keep-alive probes).
  const enqueuePool = createPool({ ...settings, max: maxFlights, idleCloseMs: 0 }, 'generic')
  const channels = { queued: patchChannel(schema), changed: changeChannel(schema) }
  const store = new PostgresStoreImpl({
    pool,
    enqueuePool,
    schema,
    qualified,
    channels,
    notifier: new PatchNotifier(pool, channels, opts.logger),
    subscriber: new PatchSubscriber(clientConfig(settings), [channels.queued, channels.changed], opts.logger),
    logger: opts.logger,
    deadlineMs,
    subscriptions: opts.subscriptions,
    groupCommit: { maxBatch: opts.maxBatch ?? 128, maxFlights },
  })
  if (opts.migrate ?? true) {
    try {
      await store.migrate()
      const mode = (await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]?.synchronous_commit
      // An acknowledged enqueue could then vanish in a crash; the port promises it will not.
      if (mode === 'off') opts.logger?.warn({ synchronous_commit: mode }, 'postgres synchronous_commit is off: accepted patches can be lost in a crash')
    } catch (error) {
      await store.close().catch(() => undefined)
      throw error
    }
  }
  return store
}
