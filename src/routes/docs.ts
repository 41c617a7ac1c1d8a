import type { FastifyInstance } from 'fastify'
import swaggerUi from '@fastify/swagger-ui'
import { Type } from '@sinclair/typebox'
import { shuttingDown } from '../schemas/api.js'

/** GET /openapi.json, the document plugins/openapi.ts builds, and the Swagger UI under /docs. */
export default async function docsRoutes(app: FastifyInstance) {
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get(
    '/openapi.json',
    {
      schema: {
        operationId: 'getOpenApi',
        summary: 'This OpenAPI document',
        description: 'The OpenAPI 3.1 document generated from the route schemas, with this server\'s address.',
        tags: ['docs'],
        security: [],
        response: {
          200: { description: 'The document', content: { 'application/json': { schema: Type.Object({}, { additionalProperties: true }) } } },
          503: shuttingDown,
        },
      },
    },
    async () => app.swagger(),
  )
}
