import { createHash } from 'node:crypto'
import type pg from 'pg'

/**
 * A named statement: each pooled connection parses and plans it once, then only binds. The
 * claim and enqueue statements cost more to plan than to run. The name is derived from the
 * text, so stores on different schemas (different text) never share a name on a connection.
 */
export type Statement = Required<Pick<pg.QueryConfig, 'name' | 'text'>>

export function prepared(text: string): Statement {
  return { name: `gr_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text }
}
