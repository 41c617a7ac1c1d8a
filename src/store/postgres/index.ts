import { DEFAULT_SCHEMA, patchChannel, qualifier } from './identifiers.js'
import { PatchSubscriber } from './listener.js'
import type { StoreLogger } from './logger.js'
import { PatchNotifier } from './notify.js'
import { clientConfig, createPool, type PoolSettings } from './pool.js'
import { PostgresStoreImpl, type PostgresStore } from './postgres-store.js'

export type { PostgresStore } from './postgres-store.js'
export type { PatchQueuedListener } from './listener.js'
export type { StoreLogger } from './logger.js'
export { DEFAULT_SCHEMA, patchChannel } from './identifiers.js'
export { LATEST_VERSION } from './schema.js'

export interface PostgresStoreOptions {
  /** postgres://user@host:port/database */
  connectionString: string
  logger?: StoreLogger
  /** Schema holding the tables, created by migrate() (default `ghost_runner`). */
  schema?: string
  /** application_name of every connection, as pg_stat_activity shows it (default `ghost-runner`). */
  applicationName?: string
  /** Most pooled connections (default 10); the LISTEN connection comes on top. */
  poolSize?: number
  /**
   * How long an operation waits for a connection, new or from a full pool, before it fails
   * (default 5000 ms): a database that is down or saturated answers with errors, not hangs.
   */
  connectTimeoutMs?: number
  /**
   * Server-side limit on one statement, sent as a startup parameter (default 30000 ms). null
   * keeps the server's setting; needed behind poolers that refuse startup parameters.
   */
  statementTimeoutMs?: number | null
  /** Apply pending migrations while opening (default true). */
  migrate?: boolean
}

/** Opens a pool on the database; connects (and migrates) now unless `migrate` is false. */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresStore> {
  const schema = opts.schema ?? DEFAULT_SCHEMA
  const qualified = qualifier(schema)
  const settings: PoolSettings = {
    connectionString: opts.connectionString,
    applicationName: opts.applicationName ?? 'ghost-runner',
    max: opts.poolSize ?? 10,
    connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
    statementTimeoutMs: opts.statementTimeoutMs === undefined ? 30_000 : opts.statementTimeoutMs,
    logger: opts.logger,
  }
  const pool = createPool(settings)
  const channel = patchChannel(schema)
  const store = new PostgresStoreImpl({
    pool,
    schema,
    qualified,
    notifier: new PatchNotifier(pool, channel, opts.logger),
    subscriber: new PatchSubscriber(clientConfig(settings), channel, opts.logger),
    logger: opts.logger,
  })
  if (opts.migrate ?? true) {
    try {
      await store.migrate()
      const mode = (await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]?.synchronous_commit
      // An acknowledged enqueue could then vanish in a crash; the port promises it will not.
      if (mode === 'off') opts.logger?.warn({ synchronous_commit: mode }, 'postgres synchronous_commit is off: accepted patches can be lost in a crash')
    } catch (error) {
      await store.close().catch(() => undefined)
      throw error
    }
  }
  return store
}
