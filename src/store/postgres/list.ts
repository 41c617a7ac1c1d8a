import { pageOf, type PageBounds } from '../adapter/paging.js'
import type { ListPage, ListQuery } from '../port/queue.js'
import type { Db } from './prepared.js'
import { pgText, summaryColumns, toSummary, type SummaryRow } from './rows.js'

/**
 * Keyset page, newest first; one row more than asked tells whether another page exists. Every
 * filter combination has an index ending in seq (schema v4), so a page reads about `limit` rows
 * however many are stored. A list of targets (already narrowed: distinct, and absent when one
 * `target` is given) is read as one such range per target, each cut at the limit and merged,
 * since `target = ANY (…) ORDER BY seq` would sort every patch of those targets.
 */
export function listSql(s: string, query: Omit<ListQuery, 'cursor'> & { before?: number }): { text: string; values: unknown[] } {
  const where: string[] = []
  const values: unknown[] = []
  const param = (value: unknown) => {
    values.push(value)
    return `$${values.length}`
  }
  if (query.targets !== undefined) where.push(`p.target = t.target`)
  if (query.status !== undefined) where.push(`p.status = ${param(query.status)}`)
  if (query.target !== undefined) where.push(`p.target = ${param(query.target)}`)
  if (query.submittedBy !== undefined) where.push(`p.submitted_by = ${param(query.submittedBy)}`)
  if (query.before !== undefined) where.push(`p.seq < ${param(query.before)}`)
  const limit = param(query.limit + 1)
  const page = `SELECT ${summaryColumns('p')} FROM ${s}.patches p ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY p.seq DESC LIMIT ${limit}`
  if (query.targets === undefined) return { text: page, values }
  const text = `SELECT x.* FROM unnest(${param(query.targets)}::text[]) AS t(target) CROSS JOIN LATERAL (${page}) x
    ORDER BY x.seq DESC LIMIT ${limit}`
  return { text, values }
}

/** A page of a list query whose bounds were checked (paging.ts) and can match something. */
export function listOps(s: string, db: Db) {
  return async (query: ListQuery, { before, targets }: PageBounds & { targets: string[] | undefined }): Promise<ListPage> => {
    const { text, values } = listSql(s, {
      status: query.status,
      target: query.target,
      targets: targets?.map(pgText),
      submittedBy: query.submittedBy === undefined ? undefined : pgText(query.submittedBy),
      limit: query.limit,
      before,
    })
    return pageOf((await db.exec<SummaryRow>({ text }, values)).rows, query.limit, toSummary)
  }
}
