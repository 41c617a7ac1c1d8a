import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import { subscriptionsOf } from '../notify/targets.js'
import type { Store } from './port.js'

/**
 * Opens the configured store adapter and applies its migrations. Its status changes record
 * notification deliveries for the configured targets, in every process that opens it.
 */
export async function openStore(config: Config, logger?: FastifyBaseLogger): Promise<Store> {
  let store: Store
  if (config.store === 'postgres') {
    const { openPostgresStore } = await import('./postgres/index.js')
    store = await openPostgresStore({ connectionString: config.databaseUrl!, schema: config.databaseSchema, logger })
  } else {
    mkdirSync(config.dataDir, { recursive: true })
    const { openSqliteStore } = await import('./sqlite/index.js')
    store = await openSqliteStore({ file: join(config.dataDir, 'ghost-runner.db'), logger })
  }
  await store.migrate()
  store.setSubscriptions(subscriptionsOf(config))
  return store
}
