import type { FastifyInstance, FastifyRequest } from 'fastify'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { TSchema } from '@sinclair/typebox'
import { LIMITS } from '../schemas/limits.js'
import { detectFormat, validatePayload } from '../ingest/payload-validator.js'
import { normalize, targetOf } from '../ingest/normalize.js'
import type { NormalizedPatch, PatchPayload } from '../schemas/patch.js'
import type { Config } from '../config.js'
import type { Principal } from '../auth/principal.js'
import { canTarget } from '../auth/rights.js'
import { Errors, withExtra } from '../errors.js'
import { parseJsonBody } from '../ingest/json-body.js'

/**
 * How a route that takes a patch reads its body (POST /webhook, POST /patches/preview): keeps
 * the exact bytes, settles a pending signature over them, and only then parses, so an
 * unauthenticated body is never parsed and nesting is checked on the bytes before any parse.
 * A patch is JSON only: a text/plain body would otherwise reach validation as a string.
 */
export function patchBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: LIMITS.bodyBytes }, async (request: FastifyRequest, body: Buffer) => {
    request.rawBody = body
    await app.verifySignature(request, body)
    return parseJsonBody(body, LIMITS.jsonDepth)
  })
}

/** Validation dispatches on the payload format and operation kind so each error names its field. */
export const patchBodyValidator =
  (url: string) =>
  ({ schema, httpPart }: { schema: unknown; httpPart?: string }) => {
    if (httpPart !== 'body') return TypeBoxValidatorCompiler({ schema: schema as TSchema, httpPart, method: 'POST', url })
    return (data: unknown) => {
      const result = validatePayload(data)
      if ('errors' in result) return { error: Object.assign(new Error('The request body does not match the schema'), { validation: result.errors }) }
      return { value: data }
    }
  }

/**
 * The patch a request carries, in the one shape the store keeps, or the error the webhook
 * answers: TARGET_FORBIDDEN before normalising (which would answer UNKNOWN_TARGET), so a scoped
 * credential learns nothing about the workspaces outside its scope, not even whether they exist.
 */
export function normalizeFor(principal: Principal, body: PatchPayload, config: Config): NormalizedPatch {
  const format = detectFormat(body)!
  const target = targetOf(format, body)
  if (!canTarget(principal, target)) throw new Errors.TARGET_FORBIDDEN(principal.name, target)
  const normalized = normalize(format, body, config)
  if ('errors' in normalized) {
    const first = normalized.errors[0]!
    throw withExtra(new Errors[first.code](), {
      detail: normalized.errors.map((e) => `${e.pointer || '/'}: ${e.detail}`).join('; '),
      errors: normalized.errors,
    })
  }
  return normalized.patch
}
