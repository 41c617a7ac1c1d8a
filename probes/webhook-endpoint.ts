import fp from 'fastify-plugin'
import { Type } from '@sinclair/typebox'
import { componentPlace } from '../src/health/place.js'

/**
 * `webhook_endpoint` (critical): POST /webhook is routed and the store accepts a write (its
 * ping is a write round trip), which is what a 202 promises.
 */
export default fp(
  async (app) => {
    app.probes.register({
      name: 'webhook_endpoint',
      place: componentPlace('webhook_endpoint', Type.Union([Type.Literal('operational'), Type.Literal('down')]), 'down'),
      critical: true,
      componentType: 'component',
      componentId: `store:${app.store.kind}`,
      measurement: 'responseTime',
      affectedEndpoints: ['/webhook'],
      async check() {
        if (!app.hasRoute({ method: 'POST', url: '/webhook' })) {
          return { status: 'fail', observedValue: null, legacy: 'down', output: 'POST /webhook is not registered' }
        }
        const started = performance.now()
        try {
          await app.store.ping()
        } catch (err) {
          return { status: 'fail', observedValue: null, legacy: 'down', output: `store rejected a write: ${(err as Error).message}` }
        }
        return { status: 'pass', observedValue: Math.round((performance.now() - started) * 10) / 10, observedUnit: 'ms', legacy: 'operational' }
      },
    })
  },
  { name: 'probe-webhook-endpoint', dependencies: ['config', 'store', 'probe-registry'] },
)
