import type { FastifyInstance, FastifyRequest } from 'fastify'
import type * as Transport from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type * as McpServer from '../mcp/server.js'
import { parseJsonBody } from '../ingest/json-body.js'
import { LIMITS } from '../schemas/limits.js'
import { Errors } from '../errors.js'

/**
 * The MCP SDK (and the schema library under it) is loaded on the first MCP request, not at
 * start: about 20 MB of resident memory that a service nobody reaches over MCP never needs.
 */
let sdk: Promise<[typeof Transport, typeof McpServer]> | undefined
// A failed load (a file missing from a broken install, say) is tried again by the next request.
const loadSdk = () =>
  (sdk ??= Promise.all([import('@modelcontextprotocol/sdk/server/streamableHttp.js'), import('../mcp/server.js')]).catch((err: unknown) => {
    sdk = undefined
    throw err
  }))

// A patch travels inside the JSON-RPC envelope (a batch, `params`, `arguments`); the webhook it is
// replayed to checks the patch itself against LIMITS.jsonDepth.
const MCP_JSON_DEPTH = LIMITS.jsonDepth + 3

/**
 * Tool calls replay as requests to the real routes with the caller's bearer token, so
 * validation, idempotency, rate limits and errors are exactly the HTTP API's. (MCP takes bearer
 * tokens only: a webhook signature covers one body and cannot be forwarded.)
 */
function dispatcher(app: FastifyInstance, request: FastifyRequest): McpServer.Dispatch {
  const headers = request.headers.authorization ? { authorization: request.headers.authorization } : {}
  return async ({ method, url, payload }) => {
    const res = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) })
    return { statusCode: res.statusCode, body: res.body }
  }
}

/**
 * MCP over Streamable HTTP at /mcp, stateless: each POST gets its own server and transport, so
 * any gateway behind a load balancer can answer any message. Hidden from the OpenAPI document:
 * it is JSON-RPC, not a REST operation a client generator could use.
 */
export default async function mcpRoutes(app: FastifyInstance) {
  // Reached only with a valid token (onRequest); nesting is still checked on the bytes, before the parse.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, async (_request: FastifyRequest, body: Buffer) => parseJsonBody(body, MCP_JSON_DEPTH))

  app.post('/mcp', { onRequest: app.requireToken, schema: { hide: true } }, async (request, reply) => {
    const [{ StreamableHTTPServerTransport }, { createMcpServer }] = await loadSdk()
    const server = createMcpServer(dispatcher(app, request))
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
    reply.hijack()
    reply.raw.on('close', () => {
      void transport.close()
      void server.close()
    })
    try {
      await server.connect(transport)
      await transport.handleRequest(request.raw, reply.raw, request.body)
    } catch (err) {
      request.log.error({ err }, 'MCP request failed')
      if (!reply.raw.headersSent) {
        reply.raw.writeHead(500, { 'content-type': 'application/json' })
        reply.raw.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null }))
      }
    }
  })

  // Stateless: no server-initiated event stream to open and no session to end.
  app.route({
    method: ['GET', 'DELETE'],
    url: '/mcp',
    onRequest: app.requireToken,
    schema: { hide: true },
    handler: async (_request, reply) => {
      reply.header('allow', 'POST')
      throw new Errors.METHOD_NOT_ALLOWED('The MCP endpoint is stateless: POST JSON-RPC messages to it')
    },
  })
}
