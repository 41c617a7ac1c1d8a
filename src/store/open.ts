import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import type { NotificationSubscription } from './port/outbox.js'
import type { Store } from './port.js'

export interface OpenStoreOptions {
  logger?: FastifyBaseLogger
  /**
   * What the outbox records deliveries for: the caller's configured targets (notify's
   * subscriptionsOf), so the store needs no knowledge of notifications. None when left out.
   */
  subscriptions?: readonly NotificationSubscription[]
}

/** Opens the configured store adapter; the adapter applies its pending migrations while opening. */
export async function openStore(config: Config, opts: OpenStoreOptions = {}): Promise<Store> {
  const { logger, subscriptions } = opts
  if (config.store === 'postgres') {
    const { openPostgresStore } = await import('./postgres/index.js')
    return openPostgresStore({ connectionString: config.databaseUrl!, schema: config.databaseSchema, deadlineMs: config.databaseTimeoutMs, logger, subscriptions })
  }
  mkdirSync(config.dataDir, { recursive: true })
  const { openSqliteStore } = await import('./sqlite/index.js')
  return openSqliteStore({ file: join(config.dataDir, 'ghost-runner.db'), logger, subscriptions })
}
