import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import pkg from '../package.json' with { type: 'json' }

/** OpenAPI 3.1 generated from the route schemas; openapi.yaml is this document, committed. */
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
        },
        servers,
        tags: [
          { name: 'patches', description: 'Submit patches and follow them' },
          { name: 'health', description: 'Liveness, readiness and component health' },
          { name: 'docs', description: 'This document' },
        ],
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', description: 'A token from GHOST_API_TOKENS' },
          },
        },
      },
    })
    await app.register(swaggerUi, { routePrefix: '/docs' })
    app.get('/openapi.json', {
      schema: {
        operationId: 'getOpenApi',
        summary: 'This OpenAPI document',
        description: 'The OpenAPI 3.1 document generated from the route schemas.',
        tags: ['docs'],
        response: { 200: { type: 'object', additionalProperties: true } },
      },
    }, async () => app.swagger())
  },
  { name: 'openapi', dependencies: ['config'] },
)
