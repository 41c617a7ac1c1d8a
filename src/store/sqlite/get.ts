import type Database from 'better-sqlite3'
import type { PatchRecord } from '../../schemas/record.js'
import type { Events } from './events.js'
import { toRecord, type PatchRow } from './rows.js'

/** A patch's record: its row and its events. */
export function prepareGet(db: Database.Database, events: Events) {
  const patch = db.prepare<[string], PatchRow>('SELECT * FROM patches WHERE id = ?')
  const load = (id: string): PatchRecord | null => {
    const row = patch.get(id)
    return row ? toRecord(row, events.of(id)) : null
  }
  return {
    /** Inside the caller's transaction. */
    load,
    /** Inside the caller's transaction, of a patch the transaction has just seen. */
    loadSeen(id: string): PatchRecord {
      const record = load(id)
      if (!record) throw new Error(`patch ${id} vanished inside its transaction`)
      return record
    },
    // A read transaction keeps the row and its events on one snapshot while another process writes.
    get: (id: string): PatchRecord | null => db.transaction(() => load(id))(),
  }
}

export type Get = ReturnType<typeof prepareGet>
