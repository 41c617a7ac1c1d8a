import type { FastifyReply } from 'fastify'
import { Errors } from '../errors.js'
import { RETRY_AFTER_S } from './sse.js'

export interface StreamLimits {
  perPrincipal: number
  total: number
}

export type SlotRefusal = 'principal' | 'total'

/**
 * Counts open event streams per principal and in all, so that no caller, and no crowd of
 * callers, can hold more of the server's sockets and timers than the configuration allows.
 */
export class StreamSlots {
  readonly #open = new Map<string, number>()
  #total = 0

  constructor(readonly limits: StreamLimits) {}

  get total(): number {
    return this.#total
  }

  /** Takes a slot for `key`: the function that gives it back (once), or which limit refused it. */
  acquire(key: string): (() => void) | SlotRefusal {
    const mine = this.#open.get(key) ?? 0
    if (mine >= this.limits.perPrincipal) return 'principal'
    if (this.#total >= this.limits.total) return 'total'
    this.#open.set(key, mine + 1)
    this.#total++
    let released = false
    return () => {
      if (released) return
      released = true
      this.#total--
      const left = (this.#open.get(key) ?? 1) - 1
      if (left > 0) this.#open.set(key, left)
      else this.#open.delete(key)
    }
  }
}

/**
 * A slot for the request's principal, or the refusal thrown: 429 TOO_MANY_STREAMS past the
 * credential's cap, 503 STREAMS_FULL past the server's, each with Retry-After.
 */
export function takeStreamSlot(slots: StreamSlots, key: string, reply: FastifyReply): () => void {
  const release = slots.acquire(key)
  if (typeof release === 'function') return release
  reply.header('retry-after', String(RETRY_AFTER_S))
  throw release === 'principal' ? new Errors.TOO_MANY_STREAMS(slots.limits.perPrincipal) : new Errors.STREAMS_FULL(slots.limits.total)
}
