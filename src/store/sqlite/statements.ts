import type Database from 'better-sqlite3'
import type { Subscriptions } from '../adapter/outbox.js'
import type { StoreLogger } from '../logger.js'
import { prepareCancel } from './cancel.js'
import { prepareClaim } from './claim.js'
import { prepareCounters } from './counters.js'
import { prepareDeliveries } from './deliveries.js'
import { prepareEnqueue } from './enqueue.js'
import { prepareEvents } from './events.js'
import { prepareGet } from './get.js'
import { prepareHistory } from './history.js'
import { prepareLeases } from './leases.js'
import { prepareList } from './list.js'
import { preparePing } from './ping.js'
import { prepareRegistry } from './registry.js'
import { prepareRetention } from './retention.js'
import { prepareTotals } from './totals.js'

export interface StatementDeps {
  /** The outbox's subscriptions of the moment: each transition reads them as it records. */
  subscriptions: () => Subscriptions
  logger?: StoreLogger
}

/** Every statement the store runs, prepared once per connection, each concern's in its file. */
export function prepareStatements(db: Database.Database, { subscriptions, logger }: StatementDeps) {
  const counters = prepareCounters(db)
  const deliveries = prepareDeliveries(db)
  const events = prepareEvents(db, deliveries, subscriptions)
  const get = prepareGet(db, events)
  return {
    commitBatch: prepareEnqueue(db, { counters, events, get, logger }),
    claim: prepareClaim(db, { counters, events, get }),
    leases: prepareLeases(db, events),
    cancel: prepareCancel(db, { events, get }),
    get: get.get,
    list: prepareList(db),
    registry: prepareRegistry(db),
    totals: prepareTotals(db),
    deliveries,
    retention: prepareRetention(db),
    history: prepareHistory(db, counters),
    ping: preparePing(db, counters),
  }
}

export type Statements = ReturnType<typeof prepareStatements>
