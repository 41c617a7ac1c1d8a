import type Database from 'better-sqlite3'
import type { RunnerInfo } from '../port/registry.js'
import { toRunner, type RunnerRow } from './rows.js'

/** The runner registry: one row per runner, rewritten by each heartbeat. */
export function prepareRegistry(db: Database.Database) {
  const upsert = db.prepare<[RunnerRow]>(
    `INSERT INTO runners (id, host, pid, started_at, last_seen, info) VALUES (@id, @host, @pid, @started_at, @last_seen, @info)
     ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,
       last_seen = excluded.last_seen, info = excluded.info`,
  )
  const all = db.prepare<[], RunnerRow>('SELECT * FROM runners ORDER BY id')
  return {
    heartbeat(runner: Omit<RunnerInfo, 'last_seen'>, now?: number): void {
      const startedAt = Date.parse(runner.started_at)
      if (Number.isNaN(startedAt)) throw new RangeError(`runner started_at is not a date: ${runner.started_at}`)
      upsert.run({ id: runner.id, host: runner.host, pid: runner.pid, started_at: startedAt, last_seen: now ?? Date.now(), info: JSON.stringify(runner.info) })
    },
    runners: (): RunnerInfo[] => all.all().map(toRunner),
  }
}
