import fp from 'fastify-plugin'
import { ProbeRegistry } from '../src/health/registry.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Health probes: register({name, critical, intervalMs, timeoutMs, componentType, check}); state() for the routes. */
    probes: ProbeRegistry
  }
}

/**
 * The probe registry and its scheduler. Probes run in the background from onReady; a request
 * only reads the composed state. The first completed round marks the process started.
 */
export default fp(
  async (app) => {
    const h = app.config.health
    const log = app.log.child({ component: 'health' })
    const registry = new ProbeRegistry({
      defaults: { intervalMs: h.intervalMs, timeoutMs: h.timeoutMs, failuresToFail: h.failuresToFail, passesToRecover: h.passesToRecover },
      onStatusChange: (c) => (c.to === 'pass' ? log.info(c, 'probe status changed') : log.warn(c, 'probe status changed')),
      onOverallChange: (c) => (c.to === 'healthy' ? log.info(c, 'overall health changed') : log.warn(c, 'overall health changed')),
      onFirstRound: () => app.lifecycle.markStarted(),
      onSkip: (probe) => log.debug({ probe }, 'previous check still running; run skipped'),
    })
    app.decorate('probes', registry)
    app.addHook('onReady', async () => registry.start())
    // Stop before the listener closes, so shutdown never reads as a failing port or store.
    app.addHook('preClose', async () => registry.stop())
    app.addHook('onClose', async () => registry.stop())
  },
  { name: 'probe-registry', dependencies: ['config', 'lifecycle'] },
)
