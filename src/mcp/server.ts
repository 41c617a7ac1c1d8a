import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import pkg from '../../package.json' with { type: 'json' }
import type { FieldError } from '../ingest/payload-validator.js'
import type { Problem } from '../schemas/problem.js'
import { TOOLS, toolList, type HttpCall } from './tools.js'

export interface HttpAnswer {
  statusCode: number
  body: string
}

/** Runs a tool's HTTP request through the app's routes with the caller's credentials. */
export type Dispatch = (call: HttpCall) => Promise<HttpAnswer>

const INSTRUCTIONS =
  'Ghost Runner applies code patches to named git workspaces. dispatch_patch queues one and answers with its id at once; poll get_patch until the status is applied, failed, rejected or cancelled. Errors are RFC 9457 problem documents: match on `code`. Your credential may be limited to some workspaces and rights: FORBIDDEN means it lacks the right, TARGET_FORBIDDEN that the workspace is outside its scope, and get_patch answers NOT_FOUND for a patch it may not read. A rejected patch says how to fix it: CONTEXT_NOT_FOUND shows in error.regions the actual lines closest to what you wrote; AMBIGUOUS_MATCH lists in error.candidates every line where it matched, so add context (or @@ lines in a V4A patch) until it matches once.'

// The same document the routes send for a schema mismatch, so a client handles both alike.
function invalidArguments(errors: FieldError[]): Problem {
  const fields = errors.map((e) => ({ pointer: e.instancePath || '/', detail: e.message }))
  return {
    type: 'about:blank',
    title: 'The request does not match the schema',
    status: 400,
    code: 'VALIDATION_FAILED',
    detail: fields.map((e) => `${e.pointer}: ${e.detail}`).join('; '),
    errors: fields,
  }
}

/**
 * One MCP server per HTTP request (the SDK's stateless pattern). It is the low-level `Server`
 * rather than `McpServer` because McpServer only takes zod shapes: this publishes the TypeBox
 * schemas as they are, so the tools and the HTTP API share one definition.
 */
export function createMcpServer(dispatch: Dispatch): Server {
  const server = new Server({ name: 'ghost-runner', version: pkg.version }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS })
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: toolList() }))
  server.setRequestHandler(CallToolRequestSchema, async ({ params }): Promise<CallToolResult> => {
    const tool = TOOLS.find((t) => t.name === params.name)
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${params.name}`)
    const args = params.arguments ?? {}
    const errors = tool.check(args)
    if (errors.length > 0) return { content: [{ type: 'text', text: JSON.stringify(invalidArguments(errors)) }], isError: true }
    const answer = await dispatch(tool.request(args as never))
    const failed = answer.statusCode >= 400 && !tool.answers?.includes(answer.statusCode)
    return { content: [{ type: 'text', text: answer.body }], ...(failed ? { isError: true } : {}) }
  })
  return server
}
