import { createHash } from 'node:crypto'
import type pg from 'pg'
import type { Subscriptions } from '../adapter/outbox.js'

/**
 * A named statement: each pooled connection parses and plans it once, then only binds. The
 * claim and enqueue statements cost more to plan than to run. The name is derived from the
 * text, so stores on different schemas (different text) never share a name on a connection.
 */
export type Statement = Required<Pick<pg.QueryConfig, 'name' | 'text'>>

export function prepared(text: string): Statement {
  return { name: `gr_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text }
}

/** What each concern's operations run on: the pool under the store's deadline, and the outbox's subscriptions. */
export interface Db {
  /** Runs a statement (named, or plain text) with the store's client-side deadline. */
  exec<R extends pg.QueryResultRow = pg.QueryResultRow>(stmt: Pick<pg.QueryConfig, 'name' | 'text'>, values: unknown[]): Promise<pg.QueryResult<R>>
  /** The subscriptions of the moment: each transition statement gets their (url, status) pairs. */
  subscriptions(): Subscriptions
}
