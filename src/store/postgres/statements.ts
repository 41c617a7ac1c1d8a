import { cancelOps } from './cancel.js'
import { claimOps } from './claim.js'
import { deliveryOps } from './deliveries.js'
import { getOps } from './get.js'
import { leaseOps } from './leases.js'
import { listOps } from './list.js'
import { pingOps } from './ping.js'
import type { Db } from './prepared.js'
import { registryOps } from './registry.js'
import { retentionOps } from './retention.js'
import { totalsOps } from './totals.js'

/**
 * Every statement the store runs, written for the qualified schema name `s`, each concern's in
 * its file (enqueues aside: group-commit.ts batches them). Named, so each pooled connection
 * plans each once.
 */
export function prepareStatements(s: string, db: Db) {
  const get = getOps(s, db)
  return {
    claim: claimOps(s, db),
    leases: leaseOps(s, db),
    cancel: cancelOps(s, db, get),
    get,
    list: listOps(s, db),
    registry: registryOps(s, db),
    totals: totalsOps(s, db),
    deliveries: deliveryOps(s, db),
    prune: retentionOps(s, db),
    ping: pingOps(s, db),
  }
}

export type Statements = ReturnType<typeof prepareStatements>
