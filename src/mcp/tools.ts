import { Type, type Static, type TObject } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { Tool, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js'
import { PatchId } from '../schemas/api.js'
import { NativePatch } from '../schemas/patch.js'
import { PatchStatus } from '../schemas/record.js'
import { detectFormat, validatePayload, type FieldError } from '../ingest/payload-validator.js'

/** The HTTP request a tool call becomes; it runs through the real routes. */
export interface HttpCall {
  method: 'GET' | 'POST'
  url: string
  payload?: unknown
}

export interface ToolSpec {
  name: string
  title: string
  description: string
  /** Published as the tool's JSON Schema and checked before the call. */
  input: TObject
  annotations: ToolAnnotations
  /** Field errors of the arguments against `input`, as JSON pointers. */
  check(args: unknown): FieldError[]
  request(args: never): HttpCall
  /** Error statuses that are still an answer (the health report is one with 503). */
  answers?: readonly number[]
}

const closed = { additionalProperties: false } as const

function compiledCheck(schema: TObject) {
  const compiled = TypeCompiler.Compile(schema)
  return (args: unknown): FieldError[] => [...compiled.Errors(args)].slice(0, 50).map((e) => ({ instancePath: e.path, message: e.message }))
}

function tool<S extends TObject>(spec: Omit<ToolSpec, 'input' | 'check' | 'request'> & { input: S; check?: ToolSpec['check']; request(args: Static<S>): HttpCall }): ToolSpec {
  return { ...spec, check: spec.check ?? compiledCheck(spec.input) }
}

const GetPatchInput = Type.Object({ id: PatchId }, closed)
// The querystring of GET /patches; the route checks it again, so a drift shows as a route error.
const ListPatchesInput = Type.Object(
  {
    status: Type.Optional(PatchStatus),
    target: Type.Optional(Type.String({ maxLength: 64, description: 'Workspace name' })),
    cursor: Type.Optional(Type.String({ maxLength: 200, description: '`next_cursor` of the previous page' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  },
  closed,
)

export const TOOLS: readonly ToolSpec[] = [
  tool({
    name: 'dispatch_patch',
    title: 'Dispatch a patch',
    description:
      'Queue a patch for a workspace (`target`). It applies wholly or not at all: operations write, replace, insert, delete, rename, diff (unified, git style) and apply_patch (V4A); then the named checks run and the change is committed. Returns the accepted record {id, status: "queued", ...}; follow it with get_patch. Set `id` to your own identifier to make retries idempotent.',
    input: NativePatch,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    // The webhook's own validator: it names the failing field of each operation by its kind.
    check: (args) => {
      if (detectFormat(args) !== 'native') return [{ instancePath: '', message: 'Expected a native patch: an object with `target` and `operations`' }]
      const result = validatePayload(args)
      return 'errors' in result ? result.errors : []
    },
    request: (patch) => ({ method: 'POST', url: '/webhook', payload: patch }),
  }),
  tool({
    name: 'preview_patch',
    title: 'Preview a patch',
    description:
      "What a patch would do to its workspace's current tree, answered at once: per-file stats and a unified diff, or the rejection (CONTEXT_NOT_FOUND, AMBIGUOUS_MATCH, ...) with candidates and regions. Nothing is queued, written or committed; the real patch may still differ if others land first.",
    input: NativePatch,
    annotations: { readOnlyHint: true, openWorldHint: false },
    check: (args) => TOOLS[0]!.check(args),
    request: (patch) => ({ method: 'POST', url: '/patches/preview', payload: patch }),
  }),
  tool({
    name: 'get_patch',
    title: 'Get a patch',
    description: 'The record of one patch: status (queued, running, applied, failed, rejected, cancelled), attempts, timestamps, event history, and the commit or the error with the failing check output.',
    input: GetPatchInput,
    annotations: { readOnlyHint: true, openWorldHint: false },
    request: ({ id }) => ({ method: 'GET', url: `/patches/${encodeURIComponent(id)}` }),
  }),
  tool({
    name: 'list_patches',
    title: 'List patches',
    description: 'Patches newest first, optionally filtered by status and target. Pass `next_cursor` back as `cursor` for the next page.',
    input: ListPatchesInput,
    annotations: { readOnlyHint: true, openWorldHint: false },
    request: (query) => {
      const search = new URLSearchParams()
      for (const [k, v] of Object.entries(query)) if (v !== undefined) search.set(k, String(v))
      const qs = search.toString()
      return { method: 'GET', url: qs ? `/patches?${qs}` : '/patches' }
    },
  }),
  tool({
    name: 'health',
    title: 'Service health',
    description: 'Overall status (healthy, degraded, unhealthy, unknown), the flags that explain it, and each component check: webhook and store, runner, filesystem, disk, memory.',
    input: Type.Object({}, closed),
    annotations: { readOnlyHint: true, openWorldHint: false },
    request: () => ({ method: 'GET', url: '/health' }),
    answers: [503],
  }),
]

// TypeBox marks schemas with symbol keys; the published schema is the plain JSON of it.
const published = new Map(TOOLS.map((t) => [t.name, JSON.parse(JSON.stringify(t.input)) as Tool['inputSchema']]))

/** The tools as tools/list describes them. */
export const toolList = (): Tool[] =>
  TOOLS.map((t) => ({ name: t.name, title: t.title, description: t.description, inputSchema: published.get(t.name)!, annotations: t.annotations }))
