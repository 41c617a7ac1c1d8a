import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import pkg from '../package.json' with { type: 'json' }
import { finishDocument } from '../src/openapi/finish-document.js'

const signatureHeader = (name: string, description: string) => ({ type: 'apiKey' as const, in: 'header' as const, name, description })

/**
 * OpenAPI 3.1 generated from the route schemas of every route registered after it; openapi.yaml
 * is this document, committed, and GET /openapi.json (src/routes/docs.ts) serves it with this
 * server's address. Routes marked `hide` stay out: the Swagger UI under /docs (HTML for people)
 * and /mcp (JSON-RPC, described by MCP itself).
 */
export default fp(
  async (app) => {
    const servers = app.config.publicUrl ? [{ url: app.config.publicUrl }] : [{ url: `http://127.0.0.1:${app.config.port}` }]
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Ghost Runner',
          version: pkg.version,
          description:
            'Patch-dispatch service: agents POST code patches; a runner applies each to a named git workspace, runs the workspace checks, and commits it or restores the tree.',
          license: { name: pkg.license, identifier: pkg.license },
          contact: { name: 'Ghost Runner maintainers' },
        },
        servers,
        tags: [
          { name: 'patches', description: 'Submit patches and follow them' },
          { name: 'health', description: 'Liveness, readiness, component health and metrics' },
          { name: 'docs', description: 'This document' },
        ],
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', description: 'A token from GHOST_API_TOKENS or a credential' },
            // Standard Webhooks: the three headers together authenticate POST /webhook only.
            webhookId: signatureHeader('webhook-id', 'Standard Webhooks message id, signed with the timestamp and body; also the idempotency key'),
            webhookTimestamp: signatureHeader('webhook-timestamp', 'Standard Webhooks timestamp: integer seconds since the epoch, within 5 minutes of the server clock'),
            webhookSignature: signatureHeader(
              'webhook-signature',
              'Standard Webhooks signature: `v1,` and the base64 HMAC-SHA256, keyed with the base64 part of a `whsec_` secret, of `<webhook-id>.<webhook-timestamp>.<body>`',
            ),
          },
        },
      },
      transformObject: (document) => ('openapiObject' in document ? finishDocument(document.openapiObject) : document.swaggerObject),
    })
  },
  { name: 'openapi', dependencies: ['config'] },
)
