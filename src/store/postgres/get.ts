import type { PatchRecord } from '../../schemas/record.js'
import { prepared, type Db } from './prepared.js'
import { pgText, recordColumns, toRecord, type PatchRow } from './rows.js'

export const getSql = (s: string) => `SELECT ${recordColumns(s, 'p')} FROM ${s}.patches p WHERE p.id = $1`

/** A patch's record, its events included, in one statement. */
export function getOps(s: string, db: Db) {
  const stmt = prepared(getSql(s))
  return async (id: string): Promise<PatchRecord | null> => {
    const row = (await db.exec<PatchRow>(stmt, [pgText(id)])).rows[0]
    return row ? toRecord(row) : null
  }
}
