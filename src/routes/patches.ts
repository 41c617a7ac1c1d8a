import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Errors } from '../errors.js'
import { PatchId, problems } from '../schemas/api.js'
import { PatchRecord, PatchStatus, PatchSummary } from '../schemas/record.js'
import { PatchDetail } from '../schemas/notification.js'
import { storeUnavailable } from '../ingest/store-errors.js'
import { redactUrl } from '../notify/targets.js'

const PatchList = Type.Object(
  { items: Type.Array(PatchSummary), next_cursor: Type.Union([Type.String(), Type.Null()]) },
  { title: 'PatchList' },
)

/** Reading and cancelling patches; the same credentials as the webhook. */
export default async function patchRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('preValidation', app.authenticate)
  const guard = async <T>(work: () => Promise<T>, log: typeof app.log) => {
    try {
      return await work()
    } catch (err) {
      // Client mistakes the store detects (a forged cursor) keep their 4xx; the rest is the store's.
      const status = (err as { statusCode?: number }).statusCode
      if (status !== undefined && status < 500) throw err
      throw storeUnavailable(err, log)
    }
  }

  app.get(
    '/patches/:id',
    {
      schema: {
        operationId: 'getPatch',
        summary: 'Get a patch',
        description:
          'The record with its status, attempts, timestamps, event history, and result or error, and the delivery state of its outbound notifications.',
        tags: ['patches'],
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: PatchId }),
        response: { 200: PatchDetail, ...problems(400, 401, 404, 503) },
      },
    },
    async (request) => {
      const { id } = request.params
      const [record, deliveries] = await guard(() => Promise.all([app.store.get(id), app.store.deliveries(id)]), request.log)
      if (!record) throw new Errors.NOT_FOUND(`No patch ${id}`)
      return { ...record, notifications: deliveries.map((d) => ({ ...d, url: redactUrl(d.url) })) }
    },
  )

  app.get(
    '/patches',
    {
      schema: {
        operationId: 'listPatches',
        summary: 'List patches',
        description: 'Newest first, filtered by status and target; pass `next_cursor` back as `cursor` for the next page.',
        tags: ['patches'],
        security: [{ bearerAuth: [] }],
        querystring: Type.Object({
          status: Type.Optional(PatchStatus),
          target: Type.Optional(Type.String({ maxLength: 64 })),
          cursor: Type.Optional(Type.String({ maxLength: 200 })),
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
        }),
        response: { 200: PatchList, ...problems(400, 401, 503) },
      },
    },
    async (request) => {
      const { status, target, cursor, limit } = request.query
      return guard(() => app.store.list({ status, target, cursor, limit }), request.log)
    },
  )

  app.post(
    '/patches/:id/cancel',
    {
      schema: {
        operationId: 'cancelPatch',
        summary: 'Cancel a queued patch',
        description:
          'Cancels a patch that is still queued; a running or finished patch answers 409 NOT_CANCELLABLE, and so does a queued patch a runner lost its lease on (it may already have landed; a runner verifies it).',
        tags: ['patches'],
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: PatchId }),
        response: { 200: PatchRecord, ...problems(400, 401, 404, 409, 503) },
      },
    },
    async (request) => {
      const { id } = request.params
      const result = await guard(() => app.store.cancel(id, 'cancelled_by_client'), request.log)
      if (result.outcome === 'not_found') throw new Errors.NOT_FOUND(`No patch ${id}`)
      if (result.outcome === 'not_cancellable') {
        const why = result.record.status === 'queued' ? 'a runner lost its lease on it, so it may already have landed; a runner will verify it' : `it is ${result.record.status}`
        throw new Errors.NOT_CANCELLABLE(id, why)
      }
      return result.record
    },
  )
}
