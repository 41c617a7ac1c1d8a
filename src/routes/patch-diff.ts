import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Errors } from '../errors.js'
import { PatchId, problems } from '../schemas/api.js'
import { storeError } from '../ingest/store-errors.js'
import { canRead } from '../auth/rights.js'
import { commitDiff, DIFF_MAX_BYTES } from '../diff/commit-diff.js'

/** Diffs per minute per credential: each one runs git for up to DIFF_TIMEOUT_MS. */
const DIFFS_PER_MINUTE = 60

/**
 * `GET /patches/{id}/diff`: the change an applied patch landed, as git shows its commit. Read
 * from the workspace repository on this server, so a gateway without the workspace answers
 * 409 DIFF_UNAVAILABLE; a patch without a commit answers 409 NOT_APPLIED (its operations are in
 * the record).
 */
export default async function patchDiffRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

  app.get(
    '/patches/:id/diff',
    {
      onRequest: app.requireRight('read'),
      config: { rateLimit: { max: DIFFS_PER_MINUTE, timeWindow: 60_000, hook: 'preHandler' } },
      schema: {
        operationId: 'getPatchDiff',
        summary: "Get the diff an applied patch landed",
        description: `The unified diff (git style, renames detected) of an applied patch's commit, at most ${DIFF_MAX_BYTES / 1024} KiB (\`Diff-Truncated\` says files were left out). 409 NOT_APPLIED without a commit; 409 DIFF_UNAVAILABLE when this server cannot read it.`,
        tags: ['patches'],
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: PatchId }),
        response: {
          200: {
            description: 'The diff',
            headers: { 'diff-truncated': { type: 'string', enum: ['true'], description: 'Present when files were left out to stay within the size cap' } },
            content: { 'text/x-diff': { schema: Type.String({ description: 'Unified diff, git style' }) } },
          },
          ...problems(400, 401, 403, 404, 429, 503),
          409: { ...problems(409)[409], description: 'No diff to show: the patch has no commit (NOT_APPLIED), or this server cannot read it (DIFF_UNAVAILABLE)' },
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      let record
      try {
        record = await app.store.get(id)
      } catch (err) {
        throw storeError(err, request.log)
      }
      // A patch the caller may not read answers like an unknown id, as GET /patches/{id} does.
      if (!record || !canRead(request.principal!, record)) throw new Errors.NOT_FOUND(`No patch ${id}`)
      const commit = record.result?.commit ?? null
      if (record.status !== 'applied' || commit === null) throw new Errors.NOT_APPLIED(id, commit === null && record.status === 'applied' ? 'applied without a commit' : record.status)
      const ws = app.config.workspaces[record.target]
      if (!ws) throw new Errors.DIFF_UNAVAILABLE(id, `workspace ${record.target} is not configured on this server`)
      const diff = await commitDiff(ws, commit)
      if (!diff.ok) throw new Errors.DIFF_UNAVAILABLE(id, diff.reason)
      if (diff.truncated) reply.header('diff-truncated', 'true')
      // The text is the tree's, hostile: never sniffed into something a browser would run.
      reply.header('x-content-type-options', 'nosniff').header('cache-control', 'private, no-cache')
      return reply.type('text/x-diff; charset=utf-8').send(diff.text)
    },
  )
}
