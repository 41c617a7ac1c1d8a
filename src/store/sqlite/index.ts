import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { StoreLogger } from './logger.js'
import { runMigrations } from './migrations.js'
import { SqliteStoreImpl, type SqliteStore } from './sqlite-store.js'

export type { SqliteStore } from './sqlite-store.js'
export type { StoreLogger } from './logger.js'
export type { GroupCommitStats } from './group-commit.js'

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
}

export async function openSqliteStore(opts: SqliteStoreOptions): Promise<SqliteStore> {
  if (opts.file !== ':memory:') mkdirSync(dirname(opts.file), { recursive: true })
  const db = new Database(opts.file)
  try {
    // busy_timeout first: the journal_mode switch itself may wait on another process.
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs ?? 5000))}`)
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
  return new SqliteStoreImpl({ db, file: opts.file, logger: opts.logger, maxBatch: opts.maxBatch ?? 256 })
}
