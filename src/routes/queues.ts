import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { problems } from '../schemas/api.js'
import { Queues, type Queue } from '../schemas/queue.js'
import { storeError } from '../ingest/store-errors.js'
import { canTarget } from '../auth/rights.js'

/**
 * `GET /queues`: what waits and runs in each workspace's lane, from the store's per-target
 * counts (one grouped read, the same that /metrics scrapes), plus every configured workspace
 * that has never had a patch.
 */
export default async function queueRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

  app.get(
    '/queues',
    {
      onRequest: app.requireRight('read'),
      schema: {
        operationId: 'listQueues',
        summary: 'Queue depth per workspace',
        description: 'Patches queued and running in each workspace\'s lane and the age of the oldest queued one, sorted by workspace name; only the workspaces in the credential\'s scope.',
        tags: ['patches'],
        security: [{ bearerAuth: [] }],
        response: { 200: Queues, ...problems(401, 403, 429, 503) },
      },
    },
    async (request) => {
      let counts
      try {
        counts = await app.store.counts()
      } catch (err) {
        throw storeError(err, request.log)
      }
      const configured = new Set(Object.keys(app.config.workspaces))
      const items = new Map<string, Queue>()
      for (const target of configured) items.set(target, { target, queued: 0, running: 0, oldest_queued_at: null, configured: true })
      for (const c of counts) {
        const oldest = c.oldest_queued_at === null ? null : new Date(c.oldest_queued_at).toISOString()
        items.set(c.target, { target: c.target, queued: c.queued, running: c.running, oldest_queued_at: oldest, configured: configured.has(c.target) })
      }
      // Counts only, but a workspace outside the credential's scope is not its business.
      const principal = request.principal!
      return { items: [...items.values()].filter((q) => canTarget(principal, q.target)).sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0)) }
    },
  )
}
