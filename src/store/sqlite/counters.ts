import type Database from 'better-sqlite3'

/**
 * Upserts that return the new value: the counter and the row change in one statement, so two
 * writers can never read the same value. Named counters: the global creation order
 * (`patch_seq`), the fencing token (`lease_token`) and the probe's write (`ping`); a lane's
 * numbering on its own row.
 */
export function prepareCounters(db: Database.Database) {
  const lane = db.prepare<[string], { next_seq: number }>(
    `INSERT INTO lanes (target, next_seq) VALUES (?, 1)
     ON CONFLICT (target) DO UPDATE SET next_seq = next_seq + 1 RETURNING next_seq`,
  )
  const counter = db.prepare<[string], { value: number }>(
    `INSERT INTO counters (name, value) VALUES (?, 1)
     ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`,
  )
  const must = <T>(row: T | undefined): T => {
    if (row === undefined) throw new Error('counter upsert returned no row')
    return row
  }
  return {
    nextLaneSeq: (target: string): number => must(lane.get(target)).next_seq,
    next: (name: 'patch_seq' | 'lease_token' | 'ping'): number => must(counter.get(name)).value,
  }
}

export type Counters = ReturnType<typeof prepareCounters>
