import fp from 'fastify-plugin'
import { subscriptionsOf } from '../src/notify/targets.js'
import { openStore } from '../src/store/open.js'
import type { Store } from '../src/store/port.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
  }
}

/** Opens the store (or adopts one handed in, as tests and `start` do) and closes what it opened. */
export default fp<{ store?: Store }>(
  async (app, opts) => {
    const store = opts.store ?? (await openStore(app.config, { logger: app.log, subscriptions: subscriptionsOf(app.config) }))
    app.decorate('store', store)
    if (!opts.store) app.addHook('onClose', () => store.close())
  },
  { name: 'store', dependencies: ['config'] },
)
