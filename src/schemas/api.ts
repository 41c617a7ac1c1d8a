import { Type, type Static } from '@sinclair/typebox'
import { PatchStatus } from './record.js'
import { Problem } from './problem.js'

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

/** The problem responses a route can send, keyed by status, for response schemas. */
export const problems = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [s, { description: PROBLEM_DESCRIPTIONS[s] ?? 'Problem', content: { 'application/problem+json': { schema: Problem } } }]),
  )

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed or schema-invalid request (code VALIDATION_FAILED, MALFORMED_JSON, JSON_TOO_DEEP, FORBIDDEN_KEY, INVALID_CURSOR)',
  401: 'Missing or invalid credentials (code UNAUTHORIZED)',
  404: 'No such patch (code NOT_FOUND)',
  409: 'Conflict (code IDEMPOTENCY_CONFLICT or NOT_CANCELLABLE)',
  413: 'Body too large (code PAYLOAD_TOO_LARGE)',
  415: 'Not application/json (code UNSUPPORTED_MEDIA_TYPE)',
  422: 'The patch cannot apply to its workspace; `errors[]` names each field (codes UNKNOWN_TARGET, PATH_NOT_ALLOWED, CHECK_NOT_ALLOWED, COMMAND_NOT_ALLOWED, INVALID_REGEX, INVALID_ANCHOR, INVALID_TAG, PATCH_PARSE_ERROR)',
  429: 'Rate limited (code RATE_LIMITED); see Retry-After',
  503: 'Queue full or store unavailable (code QUEUE_FULL, STORE_UNAVAILABLE); see Retry-After',
}
