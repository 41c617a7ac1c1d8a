import { pageOf, type PageBounds } from '../adapter/paging.js'
import type { ListPage, ListQuery } from '../port/queue.js'
import type { Migration } from './migration.js'
import type { Db } from './prepared.js'
import { pgText, summaryColumns, toSummary, type SummaryRow } from './rows.js'

type Column = 'status' | 'target' | 'submitted_by'

/**
 * Each filtered list's index: its name, the columns it is filtered on, and its order key, an
 * expression of seq that only this index holds (`-seq - k` for the k-th, ascending = newest
 * first). Ordering a list by its filter's key leaves the planner one index that gives the order:
 * it cannot walk the seq index, or a less specific filter's index, and filter the rest. It did,
 * when one value was most of the history but not of the newest patches, expecting a match at
 * every step; a page then read every newer patch of the other values (60,000 of them, 20–90 ms).
 * Reading every match and sorting, the one other plan, it takes only for values it knows are rare.
 * Schema v6 was built from this list: change it only with a new migration, and never reorder it.
 */
const FILTER_INDEXES: { name: string; columns: Column[] }[] = [
  { name: 'patches_by_status', columns: ['status'] },
  { name: 'patches_by_target', columns: ['target'] },
  { name: 'patches_by_submitter', columns: ['submitted_by'] },
  { name: 'patches_by_target_status', columns: ['target', 'status'] },
  { name: 'patches_by_submitter_status', columns: ['submitted_by', 'status'] },
  { name: 'patches_by_submitter_target', columns: ['submitted_by', 'target'] },
  { name: 'patches_by_submitter_target_status', columns: ['submitted_by', 'target', 'status'] },
]
const orderKey = (i: number, seq: string) => `(-${seq} - ${i + 1})`

/** Rebuilds the filtered lists' indexes on their order keys. Reads the table once per index: seconds at a million patches. */
export const LIST_ORDER_MIGRATION: Migration = {
  version: 6,
  name: 'filtered lists order by their own indexes',
  sql: (s) =>
    FILTER_INDEXES.map(({ name, columns }, i) => `DROP INDEX ${s}.${name};\nCREATE INDEX ${name} ON ${s}.patches (${columns.join(', ')}, ${orderKey(i, 'seq')});`).join('\n'),
}

/**
 * Keyset page, newest first; one row more than asked tells whether another page exists. The
 * unfiltered list walks the seq index; a filtered one walks its own index (FILTER_INDEXES), so
 * a page reads about `limit` rows however many are stored. A list of targets (already
 * narrowed: distinct, and absent when one `target` is given) is read as one such range per
 * target, each cut at the limit and merged, since `target = ANY (…) ORDER BY seq` would sort
 * every patch of those targets.
 */
export function listSql(s: string, query: Omit<ListQuery, 'cursor'> & { before?: number }): { text: string; values: unknown[] } {
  const where: string[] = []
  const values: unknown[] = []
  const param = (value: unknown) => {
    values.push(value)
    return `$${values.length}`
  }
  const filtered: Column[] = []
  if (query.targets !== undefined) where.push(`p.target = t.target`)
  if (query.status !== undefined) where.push(`p.status = ${param(query.status)}`)
  if (query.target !== undefined) where.push(`p.target = ${param(query.target)}`)
  if (query.submittedBy !== undefined) where.push(`p.submitted_by = ${param(query.submittedBy)}`)
  if (query.status !== undefined) filtered.push('status')
  if (query.target !== undefined || query.targets !== undefined) filtered.push('target')
  if (query.submittedBy !== undefined) filtered.push('submitted_by')
  // Newest first: the filter's order key ascending, or seq descending when unfiltered.
  const index = FILTER_INDEXES.findIndex((f) => f.columns.length === filtered.length && filtered.every((c) => f.columns.includes(c)))
  const key = index === -1 ? null : orderKey(index, 'p.seq')
  if (query.before !== undefined) where.push(key === null ? `p.seq < ${param(query.before)}` : `${key} > ${orderKey(index, `${param(query.before)}::bigint`)}`)
  const limit = param(query.limit + 1)
  const page = `SELECT ${summaryColumns('p')} FROM ${s}.patches p ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY ${key ?? 'p.seq DESC'} LIMIT ${limit}`
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
