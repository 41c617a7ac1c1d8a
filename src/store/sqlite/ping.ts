import type Database from 'better-sqlite3'
import type { Counters } from './counters.js'

/** The probe's write: a committed IMMEDIATE transaction proves more than a read. */
export const preparePing = (db: Database.Database, counters: Counters) => (): void => {
  db.transaction(() => counters.next('ping')).immediate()
}
