import { MAY_HAVE_LANDED_SQL, type ListQuery } from '../port.js'
import { now } from './clock.js'
import { outboxCte } from './deliveries.js'
import { eventsPlus, recordColumns, summaryColumns } from './rows.js'

export const getSql = (s: string) => `SELECT ${recordColumns(s, 'p')} FROM ${s}.patches p WHERE p.id = $1`

/**
 * $1 id, $2 reason, $3 and $4 the subscribed (url, status) pairs. Only a queued patch matches;
 * the caller reads the record otherwise.
 */
export const cancelSql = (s: string) => `
  WITH t AS (SELECT ${now('NULL')} AS now),
  cancelled AS (
    UPDATE ${s}.patches p SET status = 'cancelled', finished_at = t.now, updated_at = t.now
    FROM t
    WHERE p.id = $1 AND p.status = 'queued'
      AND NOT EXISTS (SELECT 1 FROM ${s}.events e WHERE e.patch_id = p.id AND e.reason IN (${MAY_HAVE_LANDED_SQL}))
    RETURNING p.*
  ),
  ev AS (
    INSERT INTO ${s}.events (patch_id, at, status, reason, detail)
    SELECT id, updated_at, 'cancelled', $2, NULL FROM cancelled
    RETURNING id, patch_id, at, status, reason, detail
  ),${outboxCte(s, 'ev', '$3', '$4')}
  SELECT ${summaryColumns('c')}, c.patch, c.result, ${eventsPlus(s, 'ev')}
  FROM cancelled c`

/** Keyset page, newest first; one row more than asked tells whether another page exists. */
export function listSql(s: string, query: Omit<ListQuery, 'cursor'> & { before?: number }): { text: string; values: unknown[] } {
  const where: string[] = []
  const values: unknown[] = []
  const param = (value: unknown) => {
    values.push(value)
    return `$${values.length}`
  }
  if (query.status !== undefined) where.push(`p.status = ${param(query.status)}`)
  if (query.target !== undefined) where.push(`p.target = ${param(query.target)}`)
  if (query.before !== undefined) where.push(`p.seq < ${param(query.before)}`)
  const text = `SELECT ${summaryColumns('p')} FROM ${s}.patches p ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY p.seq DESC LIMIT ${param(query.limit + 1)}`
  return { text, values }
}

/** Every lane, idle ones included, in byte order of target (the column is COLLATE "C"). */
export const countsSql = (s: string) => `
  SELECT l.target,
    count(p.id) FILTER (WHERE p.status = 'queued') AS queued,
    count(p.id) FILTER (WHERE p.status = 'running') AS running,
    min(p.created_at) FILTER (WHERE p.status = 'queued') AS oldest_queued_at
  FROM ${s}.lanes l
  LEFT JOIN ${s}.patches p ON p.target = l.target AND p.status IN ('queued', 'running')
  GROUP BY l.target
  ORDER BY l.target`

export const queuedTotalSql = (s: string) => `SELECT count(*) AS n FROM ${s}.patches WHERE status = 'queued'`

/** $1 id, $2 host, $3 pid, $4 started_at, $5 now (or null), $6 info json. */
export const runnerHeartbeatSql = (s: string) => `
  INSERT INTO ${s}.runners AS r (id, host, pid, started_at, last_seen, info)
  VALUES ($1, $2, $3, $4, ${now('$5')}, $6::json)
  ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,
    last_seen = excluded.last_seen, info = excluded.info`

export const runnersSql = (s: string) => `SELECT id, host, pid, started_at, last_seen, info FROM ${s}.runners ORDER BY id`

export const pingSql = (s: string) => `
  INSERT INTO ${s}.pings (name, at) VALUES ('ping', clock_timestamp())
  ON CONFLICT (name) DO UPDATE SET at = excluded.at`
