import fp from 'fastify-plugin'
import { Errors } from '../src/errors.js'

/**
 * Process lifecycle as the health routes see it: `starting` until the first probe round has
 * completed, `serving`, then `draining` from the first shutdown signal, and `closing` once the
 * listener closes.
 */
export class Lifecycle {
  #phase: 'starting' | 'serving' | 'draining' | 'closing' = 'starting'
  get phase() {
    return this.#phase
  }
  markStarted() {
    if (this.#phase === 'starting') this.#phase = 'serving'
  }
  beginDrain() {
    if (this.#phase !== 'closing') this.#phase = 'draining'
  }
  markClosing() {
    this.#phase = 'closing'
  }
  get started() {
    return this.#phase !== 'starting'
  }
  get draining() {
    return this.#phase === 'draining' || this.#phase === 'closing'
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle
  }
}

/**
 * While draining, every answer says `Connection: close`, so keep-alive clients and proxies move
 * to another instance. Once the listener has closed, a request still arriving on an open
 * connection (kept alive or pipelined) gets 503 SHUTTING_DOWN as problem+json with Retry-After,
 * in place of Fastify's generic answer (its `return503OnClosing` is off in app.ts).
 */
export default fp(
  async (app) => {
    const lifecycle = new Lifecycle()
    app.decorate('lifecycle', lifecycle)
    app.addHook('preClose', async () => lifecycle.markClosing())
    // Every request passes here: a callback hook, no promise, while serving.
    app.addHook('onRequest', (request, reply, done) => {
      if (!lifecycle.draining) return done()
      if (request.raw.httpVersionMajor < 2) reply.header('connection', 'close')
      done(lifecycle.phase === 'closing' ? new Errors.SHUTTING_DOWN() : undefined)
    })
  },
  { name: 'lifecycle' },
)
