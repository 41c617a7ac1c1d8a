import type { RunnerInfo } from '../port/registry.js'
import { now } from './clock.js'
import { prepared, type Db } from './prepared.js'
import { instantParam, pgText, toRunner, type RunnerRow } from './rows.js'

/** $1 id, $2 host, $3 pid, $4 started_at, $5 now (or null), $6 info json. */
export const runnerHeartbeatSql = (s: string) => `
  INSERT INTO ${s}.runners AS r (id, host, pid, started_at, last_seen, info)
  VALUES ($1, $2, $3, $4, ${now('$5')}, $6::json)
  ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,
    last_seen = excluded.last_seen, info = excluded.info`

export const runnersSql = (s: string) => `SELECT id, host, pid, started_at, last_seen, info FROM ${s}.runners ORDER BY id`

/** The runner registry: one row per runner, rewritten by each heartbeat. */
export function registryOps(s: string, db: Db) {
  const st = { heartbeat: prepared(runnerHeartbeatSql(s)), runners: prepared(runnersSql(s)) }
  return {
    heartbeat: async (runner: Omit<RunnerInfo, 'last_seen'>, at?: number): Promise<void> => {
      const startedAt = new Date(runner.started_at).toISOString()
      await db.exec(st.heartbeat, [pgText(runner.id), pgText(runner.host), runner.pid, startedAt, instantParam(at), JSON.stringify(runner.info)])
    },
    runners: async (): Promise<RunnerInfo[]> => (await db.exec<RunnerRow>(st.runners, [])).rows.map(toRunner),
  }
}
