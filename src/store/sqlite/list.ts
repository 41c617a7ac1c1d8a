import type Database from 'better-sqlite3'
import { pageOf, type PageBounds } from '../adapter/paging.js'
import type { ListPage, ListQuery } from '../port/queue.js'
import { toSummary, type SummaryRow } from './rows.js'

const SUMMARY_COLUMNS = `id, seq, target, lane_seq, status, client_id, format, description, idempotency_key, body_hash,
  attempts, lease_token, lease_owner, lease_expires_at, error, created_at, updated_at, started_at, finished_at,
  submitted_by, cancelled_by`

interface ListFilter {
  status?: string
  target?: string
  /** Target names: one index range each, merged (see listStatement). */
  targets?: readonly string[]
  submitted_by?: string
  before?: number
}

type Params = Record<string, string | number>
type ListStatement = (filter: ListFilter, limit: number) => SummaryRow[]

/**
 * A keyset page, newest first, that reads about `limit` rows however many are stored: every
 * filter combination has an index ending in seq (schema v4). A list of targets becomes one
 * such range per target, each cut at `limit` and merged, since `target IN (…) ORDER BY seq`
 * would sort every patch of those targets. Statements are cached per shape.
 */
function listStatements(db: Database.Database, columns: string): ListStatement {
  const cache = new Map<string, Database.Statement<[Params], SummaryRow>>()
  return (filter, limit) => {
    const where: string[] = []
    if (filter.status !== undefined) where.push('status = @status')
    if (filter.target !== undefined) where.push('target = @target')
    if (filter.submitted_by !== undefined) where.push('submitted_by = @submitted_by')
    if (filter.before !== undefined) where.push('seq < @before')
    const targets = filter.target === undefined ? filter.targets : undefined
    const key = `${where.join(' AND ')}|${targets?.length ?? '-'}`
    let stmt = cache.get(key)
    if (!stmt) {
      const page = (extra: string | null) => {
        const all = extra === null ? where : [extra, ...where]
        return `SELECT ${columns} FROM patches ${all.length > 0 ? `WHERE ${all.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT @limit`
      }
      const text = targets === undefined ? page(null) : targets.map((_, i) => `SELECT * FROM (${page(`target = @t${i}`)})`).join(' UNION ALL ')
      stmt = db.prepare<[Params], SummaryRow>(targets === undefined ? text : `SELECT * FROM (${text}) ORDER BY seq DESC LIMIT @limit`)
      cache.set(key, stmt)
    }
    const params: Params = { limit }
    for (const k of ['status', 'target', 'submitted_by', 'before'] as const) if (filter[k] !== undefined) params[k] = filter[k]
    targets?.forEach((t, i) => (params[`t${i}`] = t))
    return stmt.all(params)
  }
}

/** A page of a list query whose bounds were checked (paging.ts) and can match something. */
export function prepareList(db: Database.Database) {
  const read = listStatements(db, SUMMARY_COLUMNS)
  return (query: ListQuery, { before, targets }: PageBounds & { targets: string[] | undefined }): ListPage => {
    const filter = { status: query.status, target: query.target, targets, submitted_by: query.submittedBy, before }
    return pageOf(read(filter, query.limit + 1), query.limit, toSummary)
  }
}
