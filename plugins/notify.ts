import fp from 'fastify-plugin'
import { Dispatcher } from '../src/notify/dispatcher.js'
import { subscriptionsOf } from '../src/notify/targets.js'

declare module 'fastify' {
  interface FastifyInstance {
    notifier: Dispatcher
  }
}

/**
 * Outbound notifications: the store records a delivery with each status change for the
 * configured targets (also a store handed in by the caller), and this process's dispatcher
 * sends them. It starts once the app is ready and stops before the store closes; deliveries
 * still pending stay in the outbox for the next dispatcher.
 */
export default fp(
  async (app) => {
    app.store.setSubscriptions(subscriptionsOf(app.config))
    const notifier = new Dispatcher({ store: app.store, config: app.config, log: app.log.child({ component: 'notify' }) })
    app.decorate('notifier', notifier)
    app.addHook('onReady', async () => notifier.start())
    // onClose hooks run in reverse registration order, so this one runs before the store's.
    app.addHook('onClose', () => notifier.stop())
  },
  { name: 'notify', dependencies: ['config', 'store'] },
)
