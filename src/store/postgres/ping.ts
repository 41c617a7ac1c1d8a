import { prepared, type Db } from './prepared.js'

// ping() writes here: a committed write proves more than a SELECT 1.
export const pingSql = (s: string) => `
  INSERT INTO ${s}.pings (name, at) VALUES ('ping', clock_timestamp())
  ON CONFLICT (name) DO UPDATE SET at = excluded.at`

export function pingOps(s: string, db: Db) {
  const stmt = prepared(pingSql(s))
  return async (): Promise<void> => {
    await db.exec(stmt, [])
  }
}
