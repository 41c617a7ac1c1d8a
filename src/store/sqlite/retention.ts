import type Database from 'better-sqlite3'
import { PRUNABLE_SQL } from '../adapter/sql.js'
import type { PruneOptions } from '../port/retention.js'
import type { Migration } from './migration.js'

/** The finished patches in the order retention takes them. */
export const RETENTION_MIGRATION: Migration = {
  version: 5,
  name: 'retention',
  sql: `CREATE INDEX patches_finished ON patches (finished_at) WHERE status IN (${PRUNABLE_SQL});`,
}

/**
 * One batch per call, in its own IMMEDIATE transaction: events and outbox rows go by ON DELETE
 * CASCADE, the totals by trigger. Kept small by the caller, since SQLite runs it on the event loop.
 */
export function prepareRetention(db: Database.Database) {
  const prune = db.prepare<[PruneOptions]>(
    `DELETE FROM patches WHERE id IN (
       SELECT id FROM patches WHERE status IN (${PRUNABLE_SQL}) AND finished_at < @finishedBefore
       ORDER BY finished_at LIMIT @limit)`,
  )
  return {
    prune: (opts: PruneOptions): number => db.transaction(() => prune.run(opts).changes).immediate(),
    /**
     * Frees up to `pages` pages at the end of the file. Only a database created with
     * auto_vacuum=INCREMENTAL (every new one: see index.ts) has anything to free; in an older
     * file the pragma does nothing and freed pages are reused by new patches instead.
     */
    reclaim: (pages: number): number => {
      const before = db.pragma('freelist_count', { simple: true }) as number
      db.pragma(`incremental_vacuum(${Math.max(0, Math.trunc(pages))})`)
      return before - (db.pragma('freelist_count', { simple: true }) as number)
    },
  }
}
