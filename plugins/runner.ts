import fp from 'fastify-plugin'
import { Runner } from '../src/runner/claim/runner.js'

declare module 'fastify' {
  interface FastifyInstance {
    runner: Runner
  }
}

/**
 * Runs a patch runner inside the server process (`ghost-runner start`). It starts once the app
 * is ready (workspaces prepared first) and stops before the store closes, after its in-flight
 * patches finish. An accepted webhook wakes it at once instead of at the next poll.
 */
export default fp(
  async (app) => {
    const runner = new Runner({ store: app.store, config: app.config, log: app.log.child({ component: 'runner' }) })
    app.decorate('runner', runner)
    app.addHook('onReady', () => runner.start())
    // onClose hooks run in reverse registration order, so this one runs before the store's.
    app.addHook('onClose', () => runner.stop())
    app.addHook('onResponse', async (request, reply) => {
      if (reply.statusCode === 202 && request.method === 'POST') runner.wake()
    })
  },
  { name: 'runner', dependencies: ['config', 'store'] },
)
