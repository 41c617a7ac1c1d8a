import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Headers, problem, problems, shuttingDown } from '../schemas/api.js'
import { PatchPayload } from '../schemas/patch.js'
import { PatchPreview, PatchRejectionProblem } from '../schemas/preview.js'
import { PREVIEW_REJECT_CODES } from '../errors.js'
import { previewPatch } from '../diff/preview-patch.js'
import { normalizeFor, patchBodyParser, patchBodyValidator } from './patch-body.js'
import { limited } from './webhook.js'

/** Previews per minute per credential: each one plans a patch in a planner process for up to its budget. */
const PREVIEWS_PER_MINUTE = 60

/**
 * `POST /patches/preview`: what a patch would do to its workspace now, answered at once. The
 * webhook's body, auth and rights; planned like a real patch (planner process, time budget,
 * size limits) but never queued, written or committed.
 */
export default async function patchPreviewRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  patchBodyParser(app)

  app.post(
    '/patches/preview',
    {
      onRequest: [app.requireTokenOrSignature, app.authorize('dispatch')],
      preValidation: [(request) => app.verifySignature(request, request.rawBody ?? Buffer.alloc(0)), app.authorize('dispatch')],
      config: { rateLimit: { max: PREVIEWS_PER_MINUTE, timeWindow: 60_000, hook: 'preValidation' } },
      validatorCompiler: patchBodyValidator('/patches/preview'),
      schema: {
        operationId: 'previewPatch',
        summary: 'Preview a patch',
        description:
          "What a patch would do to its workspace's current tree: per-file stats and a unified diff (at most 1 MiB), or 422 with the rejection's code and hints. Nothing is queued, written, committed or checked. The webhook's body and rights.",
        tags: ['patches'],
        security: [{ bearerAuth: [] }, { webhookId: [], webhookTimestamp: [], webhookSignature: [] }],
        body: PatchPayload,
        response: {
          200: { description: 'What the patch would change', headers: Headers.rateLimit, content: { 'application/json': { schema: PatchPreview } } },
          ...problems(401, 403, 413, 415),
          400: limited(400),
          409: problem(409, 'This server does not hold the workspace repository (code WORKSPACE_UNAVAILABLE)', Headers.rateLimit),
          422: {
            ...limited(422),
            description: `The patch is refused as the webhook would refuse it (errors[] names each field), or would be rejected (codes ${PREVIEW_REJECT_CODES.slice(0, 4).join(', ')}, …; fields as in a record's error)`,
            content: { 'application/problem+json': { schema: PatchRejectionProblem } },
          },
          429: limited(429),
          503: shuttingDown,
        },
      },
    },
    async (request, reply) => {
      const patch = normalizeFor(request.principal!, request.body, app.config)
      const preview = await previewPatch(app.config, patch)
      request.log.info({ target: patch.target, files: preview.files.length, credential: request.principal!.name }, 'patch previewed')
      return reply.code(200).send(preview)
    },
  )
}
