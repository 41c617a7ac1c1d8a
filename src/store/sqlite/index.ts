import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { StoreLogger } from '../logger.js'
import type { NotificationSubscription } from '../port/outbox.js'
import { runMigrations } from './migrations.js'
import { SqliteStoreImpl, type SqliteStore } from './store.js'

export type { SqliteStore } from './store.js'
export type { StoreLogger } from '../logger.js'

export interface SqliteStoreOptions {
  /** Database file; its directory is created. Several processes may open the same file. */
  file: string
  logger?: StoreLogger
  /** Apply pending migrations while opening (default true). */
  migrate?: boolean
  /** How long a writer waits for another connection's write lock (default 5000 ms). */
  busyTimeoutMs?: number
  /** Most enqueues committed in one transaction (default 256). */
  maxBatch?: number
  /** While anyone follows patch changes, how often to look for commits by other processes (default 250 ms). */
  watchMs?: number
  /** What the outbox records deliveries for from the start (see OutboxPort.setSubscriptions). */
  subscriptions?: readonly NotificationSubscription[]
}

export async function openSqliteStore(opts: SqliteStoreOptions): Promise<SqliteStore> {
  if (opts.file !== ':memory:') mkdirSync(dirname(opts.file), { recursive: true })
  const db = new Database(opts.file)
  try {
    // busy_timeout first: the journal_mode switch itself may wait on another process.
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs ?? 5000))}`)
    // Before the first table: only a new file takes it (an existing one keeps its mode until a
    // VACUUM, see README "Retention"). Retention then gives freed pages back bit by bit.
    db.pragma('auto_vacuum = INCREMENTAL')
    const mode = db.pragma('journal_mode = WAL', { simple: true })
    if (mode !== 'wal' && opts.file !== ':memory:') throw new Error(`could not switch ${opts.file} to WAL (journal_mode=${String(mode)})`)
    // FULL: in WAL mode every commit fsyncs the log, so a resolved enqueue survives power loss.
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    if (opts.migrate ?? true) runMigrations(db, opts.logger)
  } catch (error) {
    db.close()
    throw error
  }
  return new SqliteStoreImpl({ db, file: opts.file, logger: opts.logger, maxBatch: opts.maxBatch ?? 256, watchMs: opts.watchMs ?? 250, subscriptions: opts.subscriptions })
}
