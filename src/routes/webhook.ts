import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Errors } from '../errors.js'
import { Accepted, Headers, problem, problems } from '../schemas/api.js'
import { PatchPayload } from '../schemas/patch.js'
import type { PatchRecord } from '../schemas/record.js'
import { newPatchId, sha256 } from '../ingest/ids.js'
import { queueDepthGauge } from '../ingest/queue-depth.js'
import { storeError } from '../ingest/store-errors.js'
import { faultPoint } from '../fault-point.js'
import type { Principal } from '../auth/principal.js'
import { normalizeFor, patchBodyParser, patchBodyValidator } from './patch-body.js'

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Retries with the same key and body answer 200 with the first record' })),
  'webhook-id': Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Standard Webhooks message id (signed requests); also the idempotency key' })),
})

/** What a stored patch answers with: the record's summary, where to read it, and the credential's rate limit. */
const acceptedResponse = (description: string) => ({
  description,
  headers: { ...Headers.location, ...Headers.rateLimit },
  content: { 'application/json': { schema: Accepted } },
})
/** Answers given once the credential is known carry its rate-limit headers. */
export const limited = (status: number) => problem(status, undefined, Headers.rateLimit)

export const accepted = (r: PatchRecord): Accepted => ({
  id: r.id,
  status: r.status,
  target: r.target,
  client_id: r.client_id,
  links: { self: `/patches/${r.id}` },
})

/** The key as the client gave it: webhook-id, then Idempotency-Key, then its own id (per target). */
function clientKey(request: FastifyRequest, target: string, clientId: string | null): string | null {
  const h = request.headers
  if (typeof h['webhook-id'] === 'string') return `webhook-id:${h['webhook-id']}`
  if (typeof h['idempotency-key'] === 'string') return `key:${h['idempotency-key']}`
  return clientId === null ? null : `client:${target}:${clientId}`
}

/**
 * The key as stored: scoped by the credential's name (which cannot hold a colon), so a key
 * another credential happens to reuse, or guesses, starts a patch of its own instead of
 * answering with the first caller's record or a conflict that tells it the key exists.
 * Credentials sharing a name (a rotation) share keys: a retry signed with the new secret is
 * still the same patch.
 */
const scopedKey = (principal: Principal, key: string | null): string | null => (key === null ? null : `${principal.name}:${key}`)

const TOKEN_OR_SIGNATURE: Record<string, string[]>[] = [{ bearerAuth: [] }, { webhookId: [], webhookTimestamp: [], webhookSignature: [] }]

/** POST /webhook as openapi.yaml documents it, and as its validator checks it. */
const webhookSchema = {
  operationId: 'dispatchPatch',
  summary: 'Submit a patch',
  description:
    'Validates and durably queues a patch for its workspace: 202 once stored. A repeat with the same idempotency key (webhook-id, Idempotency-Key or the client id) and body answers 200 with the first record. Needs the dispatch right and the target among its workspaces.',
  tags: ['patches'],
  security: TOKEN_OR_SIGNATURE,
  headers: IdempotencyHeaders,
  body: PatchPayload,
  response: {
    200: acceptedResponse('Already accepted earlier with this idempotency key'),
    202: acceptedResponse('Stored and queued'),
    ...problems(401, 403, 413, 415),
    400: limited(400),
    409: limited(409),
    422: limited(422),
    429: limited(429),
    503: limited(503),
  },
} satisfies FastifySchema

export default async function webhookRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const depth = queueDepthGauge(app.store, app.config.limits.queueDepth)

  patchBodyParser(app)

  app.post(
    '/webhook',
    {
      // A token's right is judged before the body is read; a signature's once it is verified.
      onRequest: [app.requireTokenOrSignature, app.authorize('dispatch')],
      preValidation: [
        // A request without a body never reached the parser: its signature covers the empty body.
        (request, _reply) => app.verifySignature(request, request.rawBody ?? Buffer.alloc(0)),
        app.authorize('dispatch'),
      ],
      // Per credential, after authentication (the preValidation above runs first).
      config: { rateLimit: { max: app.config.limits.ratePerMinute, timeWindow: 60_000, hook: 'preValidation' } },
      validatorCompiler: patchBodyValidator('/webhook'),
      schema: webhookSchema,
    },
    async (request, reply) => {
      const principal = request.principal!
      const patch = normalizeFor(principal, request.body, app.config)
      let full: boolean
      try {
        full = await depth.full()
      } catch (err) {
        // The depth refresh reads the store: a store that cannot answer is a 503, like the write.
        throw storeError(err, request.log)
      }
      if (full) {
        reply.header('retry-after', '5')
        throw new Errors.QUEUE_FULL(app.config.limits.queueDepth)
      }
      const key = clientKey(request, patch.target, patch.client_id)
      const patchJson = JSON.stringify(patch)
      let result
      try {
        result = await app.store.enqueue({
          id: newPatchId(),
          idempotencyKey: scopedKey(principal, key),
          bodyHash: sha256(patchJson),
          patch,
          patchJson,
          submittedBy: principal.name,
        })
      } catch (err) {
        throw storeError(err, request.log)
      }
      faultPoint('enqueued')
      if (result.outcome === 'conflict') throw new Errors.IDEMPOTENCY_CONFLICT(key ?? '')
      if (result.outcome === 'created') depth.added()
      const location = `/patches/${result.record.id}`
      request.log.info({ patch: result.record.id, target: patch.target, outcome: result.outcome, credential: principal.name }, 'patch accepted')
      return reply
        .code(result.outcome === 'created' ? 202 : 200)
        .header('location', location)
        .send(accepted(result.record))
    },
  )
}
