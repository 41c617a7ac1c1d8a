import type { FastifyInstance } from 'fastify'
import { problems, shuttingDown } from '../schemas/api.js'

/** GET /metrics: what the metrics plugin (plugins/metrics.ts) collects, with or without a credential. */
export default async function metricsRoutes(app: FastifyInstance) {
  const { requireAuth, contentType, render } = app.metricsExposition
  app.get(
    '/metrics',
    {
      ...(requireAuth ? { onRequest: app.requireRight('metrics') } : {}),
      schema: {
        operationId: 'getMetrics',
        summary: 'Prometheus metrics',
        description:
          'Prometheus text format: HTTP durations, patches accepted and finished, queue depth and age, runner heartbeats, probe status, process metrics; counts and timings only. Needs the metrics right unless GHOST_METRICS_PUBLIC=true. A store that does not answer sets ghost_store_up 0.',
        tags: ['health'],
        security: requireAuth ? [{ bearerAuth: [] }] : [],
        response: {
          200: { description: 'Metrics in the Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...(requireAuth ? problems(401, 403, 429) : {}),
          503: shuttingDown,
        },
      },
    },
    async (_request, reply) => reply.type(contentType).send(await render()),
  )
}
