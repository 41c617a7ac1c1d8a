import type Database from 'better-sqlite3'
import type { Migration } from './migration.js'
import { MIGRATIONS } from './schema.js'
import type { StoreLogger } from '../logger.js'

const LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT`

/**
 * Applies pending migrations, each in its own BEGIN IMMEDIATE transaction that re-reads the
 * ledger first: processes starting at once serialise on the write lock and the losers find
 * the work done. Returns the versions this call applied.
 */
export function runMigrations(db: Database.Database, logger?: StoreLogger, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const applied: number[] = []
  for (const m of migrations) {
    const ran = db
      .transaction(() => {
        db.exec(LEDGER)
        const done = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version)
        if (done) return false
        db.exec(m.sql)
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now())
        return true
      })
      .immediate()
    if (ran) {
      applied.push(m.version)
      logger?.info({ version: m.version, migration: m.name }, 'store migration applied')
    }
  }
  return applied
}

/** The newest version recorded in the file, 0 for a fresh file. */
export function schemaVersion(db: Database.Database): number {
  const ledger = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get()
  if (!ledger) return 0
  const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }
  return row.v ?? 0
}
