import type Database from 'better-sqlite3'

/**
 * Upserts that return the new value: the counter and the row change in one statement, so two
 * writers can never read the same value. Named counters: the global creation order
 * (`patch_seq`), the fencing token (`lease_token`) and the probe's write (`ping`); a lane's
 * numbering on its own row. `reserve` and `reserveLane` take n numbers at once and return the
 * last: a batch numbers its items with two statements, not two per item.
 */
type CounterName = 'patch_seq' | 'lease_token' | 'ping'

export function prepareCounters(db: Database.Database) {
  const lane = db.prepare<[{ target: string; n: number }], { next_seq: number }>(
    `INSERT INTO lanes (target, next_seq) VALUES (@target, @n)
     ON CONFLICT (target) DO UPDATE SET next_seq = next_seq + @n RETURNING next_seq`,
  )
  const counter = db.prepare<[{ name: string; n: number }], { value: number }>(
    `INSERT INTO counters (name, value) VALUES (@name, @n)
     ON CONFLICT (name) DO UPDATE SET value = value + @n RETURNING value`,
  )
  const must = <T>(row: T | undefined): T => {
    if (row === undefined) throw new Error('counter upsert returned no row')
    return row
  }
  const reserve = (name: CounterName, n: number): number => must(counter.get({ name, n })).value
  return {
    next: (name: CounterName): number => reserve(name, 1),
    reserve,
    reserveLane: (target: string, n: number): number => must(lane.get({ target, n })).next_seq,
  }
}

export type Counters = ReturnType<typeof prepareCounters>
