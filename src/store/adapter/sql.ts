// Lists of the port's constants as SQL text, written once for both adapters' statements.
import { MAY_HAVE_LANDED_REASONS } from '../port/queue.js'
import { PRUNABLE_STATUSES } from '../port/retention.js'

const list = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ')

/** MAY_HAVE_LANDED_REASONS, for both stores' cancel statements. */
export const MAY_HAVE_LANDED_SQL = list(MAY_HAVE_LANDED_REASONS)

/** PRUNABLE_STATUSES, for both stores' retention index and delete. */
export const PRUNABLE_SQL = list(PRUNABLE_STATUSES)
