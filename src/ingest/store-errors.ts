import type { FastifyBaseLogger } from 'fastify'
import { Errors } from '../errors.js'

/** A store that cannot write (disk full, read-only, connection lost) is a 503 the client may retry. */
export function storeUnavailable(err: unknown, log: FastifyBaseLogger) {
  log.error({ err }, 'store write failed')
  return new Errors.STORE_UNAVAILABLE()
}
