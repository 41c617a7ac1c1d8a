import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { PatchStatus } from './record.js'
import { Problem } from './problem.js'
import { codesOf, PATCH_FIELD_CODES } from '../errors.js'

export const PatchId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Server-generated patch id' })

export const Accepted = Type.Object(
  {
    id: PatchId,
    status: PatchStatus,
    target: Type.String(),
    client_id: Type.Union([Type.String(), Type.Null()]),
    links: Type.Object({ self: Type.String() }),
  },
  { title: 'Accepted' },
)
export type Accepted = Static<typeof Accepted>

/**
 * Response headers, keyed by their name as the document spells it (HTTP header names are
 * case-insensitive). `required: true` is the OpenAPI
 * Header Object's field: the document transform lifts it out of the schema (plugins/openapi.ts).
 */
const header = (schema: TSchema, required = false) => (required ? { ...schema, required: true } : schema)
const seconds = (description: string) => Type.Integer({ minimum: 0, description })

export const Headers = {
  retryAfter: { 'Retry-After': header(seconds('Seconds to wait before retrying'), true) },
  location: { Location: header(Type.String({ description: 'The patch: `/patches/{id}`' }), true) },
  wwwAuthenticate: { 'WWW-Authenticate': Type.String({ description: '`Bearer`, when a bearer token was missing or not valid' }) },
  /** Sent by @fastify/rate-limit on every answer of a rate-limited route once the credential is known. */
  rateLimit: {
    'X-RateLimit-Limit': seconds('Requests allowed per window for this credential'),
    'X-RateLimit-Remaining': seconds('Requests left in the current window'),
    'X-RateLimit-Reset': seconds('Seconds until the window resets'),
  },
} as const

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: `Malformed or schema-invalid request (code ${codesOf(400).join(', ')})`,
  401: 'Missing or invalid credentials (code UNAUTHORIZED)',
  403: 'The credential does not hold the right this needs (code FORBIDDEN), or may not target this workspace (TARGET_FORBIDDEN)',
  404: 'No such patch, or none this credential may read (code NOT_FOUND)',
  409: 'Conflict (code IDEMPOTENCY_CONFLICT or NOT_CANCELLABLE)',
  413: 'Body too large (code PAYLOAD_TOO_LARGE)',
  415: 'Not application/json (code UNSUPPORTED_MEDIA_TYPE)',
  422: `The patch cannot apply to its workspace; \`errors[]\` names each field (codes ${PATCH_FIELD_CODES.join(', ')})`,
  429: 'Rate limited (code RATE_LIMITED: this credential\'s requests, or this address\'s failed authentications); see Retry-After',
  503: 'Queue full, store unavailable or shutting down (code QUEUE_FULL, STORE_UNAVAILABLE, SHUTTING_DOWN); see Retry-After',
}

/** Headers every problem of a status carries. */
const PROBLEM_HEADERS: Record<number, Record<string, TSchema>> = {
  401: Headers.wwwAuthenticate,
  429: Headers.retryAfter,
  503: Headers.retryAfter,
}

export const problemContent = { 'application/problem+json': { schema: Problem } }

/** One problem response: its description, the headers of its status, and the problem document. */
export const problem = (status: number, description = PROBLEM_DESCRIPTIONS[status] ?? 'Problem', headers: Record<string, TSchema> = {}) => {
  const all = { ...PROBLEM_HEADERS[status], ...headers }
  return { description, ...(Object.keys(all).length > 0 ? { headers: all } : {}), content: problemContent }
}

/** The problem responses a route can send, keyed by status, for response schemas. */
export const problems = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, problem(s)]))

/**
 * 503 SHUTTING_DOWN, which any route answers once the listener has closed (plugins/lifecycle.ts);
 * routes whose 503 is their own body (the health routes) list it beside that body.
 */
export const shuttingDown = problem(503, 'The server is shutting down (code SHUTTING_DOWN); see Retry-After')
