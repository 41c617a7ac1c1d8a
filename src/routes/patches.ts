import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Errors } from '../errors.js'
import { PatchId, problems } from '../schemas/api.js'
import { PatchRecord, PatchStatus, PatchSummary } from '../schemas/record.js'
import { PatchDetail } from '../schemas/notification.js'
import { storeError } from '../ingest/store-errors.js'
import { redactUrl } from '../notify/targets.js'
import { canCancel, canRead, canTarget, readFilter } from '../auth/rights.js'

/** Filled in by the validator when `limit` is left out; the handler's fallback says the same. */
const PAGE_SIZE = 20

const PatchList = Type.Object(
  { items: Type.Array(PatchSummary), next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last' }) },
  { title: 'PatchList' },
)

const noPatch = (id: string) => new Errors.NOT_FOUND(`No patch ${id}`)

/** A store call whose failure answers as the store's error (503 STORE_UNAVAILABLE and the like). */
async function guard<T>(work: () => Promise<T>, log: FastifyBaseLogger): Promise<T> {
  try {
    return await work()
  } catch (err) {
    throw storeError(err, log)
  }
}

/** GET /patches/{id}: one record with the delivery state of its notifications. */
function getPatchRoute(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/patches/:id',
    {
      schema: {
        operationId: 'getPatch',
        summary: 'Get a patch',
        description:
          'The record: status, attempts, timestamps, event history, result or error, and the delivery state of its notifications. Needs the read right; a patch outside the credential\'s reach answers 404 like an unknown id.',
        tags: ['patches'],
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: PatchId }),
        response: { 200: { description: 'The patch', content: { 'application/json': { schema: PatchDetail } } }, ...problems(400, 401, 403, 404, 429, 503) },
      },
      onRequest: app.requireRight('read'),
    },
    async (request) => {
      const { id } = request.params
      const [record, deliveries] = await guard(() => Promise.all([app.store.get(id), app.store.deliveries(id)]), request.log)
      if (!record || !canRead(request.principal!, record)) throw noPatch(id)
      return { ...record, notifications: deliveries.map((d) => ({ ...d, url: redactUrl(d.url) })) }
    },
  )
}

/** GET /patches: a page of summaries, narrowed to what the credential may read. */
function listPatchesRoute(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/patches',
    {
      schema: {
        operationId: 'listPatches',
        summary: 'List patches',
        description:
          'Newest first, filtered by status and target; pass `next_cursor` back as `cursor` for the next page. Needs the read right; lists only the patches within the credential\'s reach, and a `target` outside its workspaces is 403 TARGET_FORBIDDEN.',
        tags: ['patches'],
        security: [{ bearerAuth: [] }],
        querystring: Type.Object({
          status: Type.Optional(PatchStatus),
          target: Type.Optional(Type.String({ maxLength: 64 })),
          cursor: Type.Optional(Type.String({ maxLength: 200 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: PAGE_SIZE, description: 'Page size' })),
        }),
        response: { 200: { description: 'One page of patches', content: { 'application/json': { schema: PatchList } } }, ...problems(400, 401, 403, 429, 503) },
      },
      onRequest: app.requireRight('read'),
    },
    async (request) => {
      const { status, target, cursor, limit } = request.query
      const principal = request.principal!
      if (target !== undefined && !canTarget(principal, target)) throw new Errors.TARGET_FORBIDDEN(principal.name, target)
      // Narrowed in the store's query, not here: a page filtered after the fact would come back
      // short or empty while more patches are within reach.
      return guard(() => app.store.list({ status, target, cursor, limit: limit ?? PAGE_SIZE, ...readFilter(principal) }), request.log)
    },
  )
}

/** POST /patches/{id}/cancel: cancels a patch still queued. */
function cancelPatchRoute(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.post(
    '/patches/:id/cancel',
    {
      schema: {
        operationId: 'cancelPatch',
        summary: 'Cancel a queued patch',
        description:
          'Cancels a patch that is still queued; a running or finished one answers 409 NOT_CANCELLABLE. Needs the cancel right: a patch outside the credential\'s read reach answers 404, one it may read but not cancel 403. Records the credential as `cancelled_by`.',
        tags: ['patches'],
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: PatchId }),
        response: { 200: { description: 'The cancelled patch', content: { 'application/json': { schema: PatchRecord } } }, ...problems(400, 401, 403, 404, 409, 429, 503) },
      },
      onRequest: app.requireRight('cancel'),
    },
    async (request) => {
      const { id } = request.params
      const principal = request.principal!
      // Target and submitter never change once stored, so this judgement still holds at the cancel.
      const found = await guard(() => app.store.get(id), request.log)
      if (!found || !canRead(principal, found)) throw noPatch(id)
      if (!canCancel(principal, found)) throw new Errors.FORBIDDEN(`Credential "${principal.name}" may cancel only the patches it submitted`)
      const result = await guard(() => app.store.cancel(id, 'cancelled_by_client', principal.name), request.log)
      if (result.outcome === 'not_found') throw noPatch(id)
      if (result.outcome === 'not_cancellable') {
        const why = result.record.status === 'queued' ? 'a runner lost its lease on it, so it may already have landed; a runner will verify it' : `it is ${result.record.status}`
        throw new Errors.NOT_CANCELLABLE(id, why)
      }
      request.log.info({ patch: id, target: result.record.target, credential: principal.name }, 'patch cancelled')
      return result.record
    },
  )
}

/**
 * Reading and cancelling patches, with a bearer token (a webhook signature covers no route or
 * method) holding the read or cancel right. A patch outside the credential's reach answers 404,
 * exactly like an unknown id, so its existence is not disclosed.
 */
export default async function patchRoutes(app: FastifyInstance) {
  getPatchRoute(app)
  listPatchesRoute(app)
  cancelPatchRoute(app)
}
