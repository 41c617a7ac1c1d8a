import type { PatchSummary } from '../../schemas/record.js'
import { decodeCursor, encodeCursor, narrowTargets } from '../ids.js'
import type { ListPage, ListQuery } from '../port/queue.js'

/** What a list query asks of an adapter once checked: rows before `before`, of `targets`. */
export interface PageBounds {
  /** The creation-order key the page starts below, from the cursor. */
  before: number | undefined
  /** See narrowTargets: null when nothing can match. */
  targets: string[] | undefined | null
}

/** Checks a list query before any I/O: a bad limit is a RangeError, a forged cursor InvalidCursorError. */
export function pageBounds(query: ListQuery): PageBounds {
  if (!Number.isInteger(query.limit) || query.limit < 1) throw new RangeError(`limit must be a positive integer: ${query.limit}`)
  const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
  return { before, targets: narrowTargets(query) }
}

export const EMPTY_PAGE: ListPage = { items: [], next_cursor: null }

/** A page from rows read with one more than `limit`: that extra row tells whether another page exists. */
export function pageOf<R extends { seq: number }>(rows: readonly R[], limit: number, toSummary: (row: R) => PatchSummary): ListPage {
  const page = rows.slice(0, limit)
  const last = page[page.length - 1]
  return { items: page.map(toSummary), next_cursor: rows.length > limit && last ? encodeCursor(last.seq) : null }
}
