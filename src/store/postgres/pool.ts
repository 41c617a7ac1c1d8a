import pg from 'pg'
import type { StoreLogger } from '../logger.js'

export interface PoolSettings {
  connectionString: string
  applicationName: string
  max: number
  connectTimeoutMs: number
  statementTimeoutMs: number | null
  /** Sent with statement_timeout: a transaction whose client went silent ends, and frees its locks. */
  idleInTransactionTimeoutMs: number
  /** How long a connection left unused stays open (pg's default, 10 s, when absent); 0 keeps it. */
  idleCloseMs?: number
  logger?: StoreLogger
}

const INT8_OID = 20

// Sequences, fencing tokens and counts are bigint columns that stay far below 2^53; reading
// them as numbers keeps the port's types, and an impossible value fails loudly, not silently.
function parseInt8(text: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new RangeError(`bigint outside the safe integer range: ${text}`)
  return n
}

const types: pg.CustomTypesConfig = {
  getTypeParser: (oid, format) => (oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)),
}

/**
 * How a connection plans named statements: `custom` plans each execution for the tables as they
 * are (the pool, the LISTEN connection); `generic` keeps one plan per connection, for statements
 * that reach rows only through keys (the enqueue batch, enqueue-sql.ts), where planning each
 * execution was a fifth of the server's time under webhook load.
 */
export type Plans = 'custom' | 'generic'

/** The client settings shared by the pools and the LISTEN connection. */
export function clientConfig(s: PoolSettings, plans: Plans = 'custom'): pg.ClientConfig {
  return {
    connectionString: s.connectionString,
    application_name: s.applicationName,
    // Without it a request waits forever for a database that is down; with it the caller gets
    // an error it can turn into a 503.
    connectionTimeoutMillis: s.connectTimeoutMs,
    // A connection may sit unused for long (the LISTEN one, the enqueue one between bursts):
    // a probe after a minute of silence keeps it in the tables of NATs and load balancers that
    // forget an idle flow after a few minutes, and finds a peer that is gone.
    keepAlive: true,
    keepAliveInitialDelayMillis: 60_000,
    types,
    ...(s.statementTimeoutMs === null
      ? {}
      : {
          statement_timeout: s.statementTimeoutMs,
          idle_in_transaction_session_timeout: s.idleInTransactionTimeoutMs,
          // `custom`: every execution of a named statement is planned for the table as it is.
          // After five executions the server may otherwise keep a generic plan for good, and one
          // made while the patches table was a few pages reads it whole: an idempotency-key
          // look-up read 17 million rows in 9 s of a bench, once the table held 37,000 patches.
          // Statistics (ANALYZE) would replace that plan, but nothing runs them where autovacuum
          // is off. `generic`: see Plans.
          options: `-c plan_cache_mode=force_${plans}_plan`,
        }),
  }
}

export function createPool(s: PoolSettings, plans: Plans = 'custom'): pg.Pool {
  // pg-pool takes its default idle close when this is undefined.
  const pool = new pg.Pool({ ...clientConfig(s, plans), max: s.max, idleTimeoutMillis: s.idleCloseMs })
  // An idle client whose backend dies (restart, pg_terminate_backend, network) emits 'error' on
  // the pool; unhandled, that would crash the process. The pool has already discarded it.
  pool.on('error', (err) => s.logger?.warn({ err }, 'idle postgres connection lost; the pool will reconnect'))
  return pool
}

/**
 * `query` with a client-side deadline: past `ms` the query fails here, whatever the link does,
 * and the pool drops its connection. pg reads query_timeout per query; its types omit it.
 */
export const timed = <Q extends pg.QueryConfig>(query: Q, ms: number): Q => ({ ...query, query_timeout: ms }) as Q
