import fp from 'fastify-plugin'

/**
 * Process lifecycle as the health routes see it: `starting` until the first probe round has
 * completed, `serving`, then `draining` from the first shutdown signal until the listener closes.
 */
export class Lifecycle {
  #phase: 'starting' | 'serving' | 'draining' = 'starting'
  get phase() {
    return this.#phase
  }
  markStarted() {
    if (this.#phase === 'starting') this.#phase = 'serving'
  }
  beginDrain() {
    this.#phase = 'draining'
  }
  get started() {
    return this.#phase !== 'starting'
  }
  get draining() {
    return this.#phase === 'draining'
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle
  }
}

export default fp(
  async (app) => {
    app.decorate('lifecycle', new Lifecycle())
  },
  { name: 'lifecycle' },
)
