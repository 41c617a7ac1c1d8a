import type { FastifyBaseLogger } from 'fastify'
import { Errors } from '../errors.js'
import { EnqueueUncertainError } from '../store/errors.js'
import { InvalidCursorError } from '../store/ids.js'

/**
 * The one place a store failure becomes an HTTP problem. A client mistake the store detects (a
 * forged cursor) is a 400. Anything else is a store that cannot answer (disk full, read-only,
 * connection lost, past its deadline): a 503 the client may retry; an enqueue answered so stored
 * nothing, unless the detail names a patch id. The error handler logs a 503 once, at warn, with
 * the cause's message; the cause's stack is only for debugging.
 */
export function storeError(err: unknown, log: FastifyBaseLogger) {
  if (err instanceof InvalidCursorError) return new Errors.INVALID_CURSOR(JSON.stringify(err.cursor))
  log.debug({ err }, 'store operation failed')
  const error = new Errors.STORE_UNAVAILABLE({ cause: err })
  // The one 503 after which the patch may be stored: the client is told which, and how to know.
  if (err instanceof EnqueueUncertainError) {
    const id = err.patchId
    return Object.assign(error, {
      detail: `The store did not confirm storing patch ${id}; it may be stored. Retry with the same idempotency key (a stored patch comes back with 200 and this id), or GET /patches/${id}.`,
    })
  }
  return error
}
