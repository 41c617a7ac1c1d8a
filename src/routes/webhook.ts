import { isUtf8 } from 'node:buffer'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import sjson from 'secure-json-parse'
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type, type TSchema } from '@sinclair/typebox'
import { Errors } from '../errors.js'
import { Accepted, problems } from '../schemas/api.js'
import { LIMITS } from '../schemas/limits.js'
import { PatchPayload } from '../schemas/patch.js'
import type { PatchRecord } from '../schemas/record.js'
import { detectFormat, jsonDepth, validatePayload } from '../ingest/payload-validator.js'
import { normalize } from '../ingest/normalize.js'
import { newPatchId, sha256 } from '../ingest/ids.js'
import { queueDepthGauge } from '../ingest/queue-depth.js'
import { storeUnavailable } from '../ingest/store-errors.js'
import { faultPoint } from '../fault-point.js'

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  'webhook-id': Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
})

export const accepted = (r: PatchRecord): Accepted => ({
  id: r.id,
  status: r.status,
  target: r.target,
  client_id: r.client_id,
  links: { self: `/patches/${r.id}` },
})

/** Idempotency key: webhook-id, then Idempotency-Key, then the client's own id (per target). */
function idempotencyKey(request: FastifyRequest, target: string, clientId: string | null): string | null {
  const h = request.headers
  if (typeof h['webhook-id'] === 'string') return `webhook-id:${h['webhook-id']}`
  if (typeof h['idempotency-key'] === 'string') return `key:${h['idempotency-key']}`
  return clientId === null ? null : `client:${target}:${clientId}`
}

export default async function webhookRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const depth = queueDepthGauge(app.store, app.config.limits.queueDepth)

  // Keeps the exact bytes for signature verification, then parses with prototype-poisoning
  // protection and refuses nesting that would make later walks expensive.
  // A patch is JSON only: a text/plain body would otherwise reach validation as a string.
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: LIMITS.bodyBytes }, (request, body, done) => {
    request.rawBody = body as Buffer
    // Decoding would turn invalid bytes into U+FFFD silently, storing text the client never sent.
    if (!isUtf8(body as Buffer)) return done(new Errors.MALFORMED_JSON('the body is not valid UTF-8'), undefined)
    let value: unknown
    try {
      value = sjson.parse(body as Buffer, undefined, { protoAction: 'error', constructorAction: 'error' })
    } catch (err) {
      const poisoned = /forbidden prototype/i.test((err as Error).message)
      return done(poisoned ? new Errors.FORBIDDEN_KEY() : new Errors.MALFORMED_JSON((err as Error).message), undefined)
    }
    if (jsonDepth(value, LIMITS.jsonDepth) > LIMITS.jsonDepth) return done(new Errors.JSON_TOO_DEEP(LIMITS.jsonDepth), undefined)
    done(null, value)
  })

  await app.register(rateLimit, {
    global: false,
    max: app.config.limits.ratePerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => (request.headers.authorization ? sha256(request.headers.authorization) : request.ip),
    errorResponseBuilder: (_request, context) => new Errors.RATE_LIMITED(Math.ceil(context.ttl / 1000)),
  })

  app.post(
    '/webhook',
    {
      config: { rateLimit: {} },
      preValidation: app.authenticate,
      // Validation dispatches on the payload format and operation kind so each error names its field.
      validatorCompiler: ({ schema, httpPart }) => {
        if (httpPart !== 'body') return TypeBoxValidatorCompiler({ schema: schema as unknown as TSchema, httpPart, method: 'POST', url: '/webhook' })
        return (data: unknown) => {
          const result = validatePayload(data)
          if ('errors' in result) return { error: Object.assign(new Error('The request body does not match the schema'), { validation: result.errors }) }
          return { value: data }
        }
      },
      schema: {
        operationId: 'dispatchPatch',
        summary: 'Submit a patch',
        description:
          'Authenticates, validates and durably queues a patch for its workspace. Answers 202 once the patch is stored; a repeat with the same idempotency key (webhook-id, Idempotency-Key or the client id) and the same body answers 200 with the existing record.',
        tags: ['patches'],
        security: [{ bearerAuth: [] }],
        headers: IdempotencyHeaders,
        body: PatchPayload,
        response: {
          200: { ...Accepted, description: 'Already accepted earlier with this idempotency key' },
          202: { ...Accepted, description: 'Stored and queued' },
          ...problems(400, 401, 409, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const normalized = normalize(detectFormat(request.body)!, request.body, app.config)
      if ('errors' in normalized) {
        const first = normalized.errors[0]!
        return reply.problem(422, first.code ?? 'INVALID_PATCH', 'The patch cannot be accepted', {
          detail: normalized.errors.map((e) => `${e.pointer || '/'}: ${e.detail}`).join('; '),
          errors: normalized.errors,
        })
      }
      const patch = normalized.patch
      let full: boolean
      try {
        full = await depth.full()
      } catch (err) {
        // The depth refresh reads the store: a store that cannot answer is a 503, like the write.
        throw storeUnavailable(err, request.log)
      }
      if (full) {
        reply.header('retry-after', '5')
        throw new Errors.QUEUE_FULL(app.config.limits.queueDepth)
      }
      const key = idempotencyKey(request, patch.target, patch.client_id)
      let result
      try {
        result = await app.store.enqueue({ id: newPatchId(), idempotencyKey: key, bodyHash: sha256(JSON.stringify(patch)), patch })
      } catch (err) {
        throw storeUnavailable(err, request.log)
      }
      faultPoint('enqueued')
      if (result.outcome === 'conflict') throw new Errors.IDEMPOTENCY_CONFLICT(key ?? '')
      if (result.outcome === 'created') depth.added()
      const location = `/patches/${result.record.id}`
      request.log.info({ patch: result.record.id, target: patch.target, outcome: result.outcome }, 'patch accepted')
      return reply
        .code(result.outcome === 'created' ? 202 : 200)
        .header('location', location)
        .send(accepted(result.record))
    },
  )
}
