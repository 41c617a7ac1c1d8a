import createError, { type FastifyErrorConstructor } from '@fastify/error'
import type { ProblemFieldError } from './schemas/problem.js'
import type { PatchError } from './schemas/record.js'
import { REJECT_CODES } from './runner/operations/errors.js'

const REFUSED = 'The patch cannot be accepted'

/**
 * Why a patch cannot be accepted as sent (422): each failing field of `errors[]` carries one,
 * and the first is the problem's own code.
 */
export const PATCH_FIELD_CODES = [
  'UNKNOWN_TARGET',
  'PATH_NOT_ALLOWED',
  'CHECK_NOT_ALLOWED',
  'COMMAND_NOT_ALLOWED',
  'INVALID_REGEX',
  'INVALID_ANCHOR',
  'INVALID_TAG',
  'PATCH_PARSE_ERROR',
] as const
export type PatchFieldCode = (typeof PATCH_FIELD_CODES)[number]

/** One failing field of a refused patch, its code from the catalog. */
export type PatchFieldError = ProblemFieldError & { code: PatchFieldCode }

const refused = Object.fromEntries(PATCH_FIELD_CODES.map((code) => [code, createError(code, REFUSED, 422)])) as Record<PatchFieldCode, FastifyErrorConstructor>

/**
 * Why a previewed patch would be rejected (422, POST /patches/preview): the runner's reject
 * codes, the same a rejected record's `error.code` carries. Two of them are also field codes
 * (PATCH_PARSE_ERROR, INVALID_REGEX) and keep their one catalog entry.
 */
export const PREVIEW_REJECT_CODES = REJECT_CODES.filter((c): c is Exclude<(typeof REJECT_CODES)[number], PatchFieldCode> => !(PATCH_FIELD_CODES as readonly string[]).includes(c))
type PreviewRejectCode = (typeof PREVIEW_REJECT_CODES)[number]
const wouldReject = Object.fromEntries(PREVIEW_REJECT_CODES.map((code) => [code, createError(code, 'The patch would be rejected: %s', 422)])) as Record<PreviewRejectCode, FastifyErrorConstructor>

// The one catalog of coded errors the HTTP API sends: every problem+json a client can get is
// one of these, with its status and its title. Codes are part of the API contract: clients
// match on `code`, so a code never changes meaning once published. README's error table lists
// each with the same status (test/errors-catalog.test.ts keeps them in step).
export const Errors = {
  VALIDATION_FAILED: createError('VALIDATION_FAILED', 'The request body does not match the schema', 400),
  MALFORMED_JSON: createError('MALFORMED_JSON', 'The request body is not valid JSON: %s', 400),
  JSON_TOO_DEEP: createError('JSON_TOO_DEEP', 'The request body nests deeper than %s levels', 400),
  FORBIDDEN_KEY: createError('FORBIDDEN_KEY', 'The body contains a forbidden key (__proto__ or constructor.prototype)', 400),
  INVALID_CURSOR: createError('INVALID_CURSOR', 'invalid cursor: %s', 400),
  UNAUTHORIZED: createError('UNAUTHORIZED', '%s', 401),
  FORBIDDEN: createError('FORBIDDEN', '%s', 403),
  TARGET_FORBIDDEN: createError('TARGET_FORBIDDEN', 'Credential "%s" may not target workspace "%s"', 403),
  NOT_FOUND: createError('NOT_FOUND', '%s', 404),
  ROUTE_NOT_FOUND: createError('ROUTE_NOT_FOUND', 'No route %s %s', 404),
  METHOD_NOT_ALLOWED: createError('METHOD_NOT_ALLOWED', '%s', 405),
  IDEMPOTENCY_CONFLICT: createError('IDEMPOTENCY_CONFLICT', 'Idempotency key %s was already used with a different body', 409),
  NOT_CANCELLABLE: createError('NOT_CANCELLABLE', 'Patch %s can no longer be cancelled: %s', 409),
  NOT_APPLIED: createError('NOT_APPLIED', 'Patch %s has no commit to show: it is %s', 409),
  DIFF_UNAVAILABLE: createError('DIFF_UNAVAILABLE', 'The diff of patch %s is not available here: %s', 409),
  WORKSPACE_UNAVAILABLE: createError('WORKSPACE_UNAVAILABLE', 'Workspace %s is not available on this server: %s', 409),
  PAYLOAD_TOO_LARGE: createError('PAYLOAD_TOO_LARGE', 'The request body exceeds %s bytes', 413),
  UNSUPPORTED_MEDIA_TYPE: createError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json', 415),
  ...refused,
  ...wouldReject,
  RATE_LIMITED: createError('RATE_LIMITED', 'Too many requests; retry in %s seconds', 429),
  TOO_MANY_STREAMS: createError('TOO_MANY_STREAMS', 'These credentials already hold %s open event streams; close one or retry later', 429),
  INTERNAL: createError('INTERNAL', 'Internal server error', 500),
  QUEUE_FULL: createError('QUEUE_FULL', 'The queue holds %s patches; retry later', 503),
  STORE_UNAVAILABLE: createError('STORE_UNAVAILABLE', 'The patch store is unavailable; retry later', 503),
  STREAMS_FULL: createError('STREAMS_FULL', 'The server holds %s open event streams; retry later', 503),
  SHUTTING_DOWN: createError('SHUTTING_DOWN', 'The server is shutting down', 503),
} as const

export type ErrorCode = keyof typeof Errors

/** What the problem document says beyond its title: the error handler (plugins/problems.ts) sends both. */
export interface ProblemExtra {
  detail?: string
  errors?: ProblemFieldError[]
  /** A previewed patch's rejection: where it failed and what the file actually holds. */
  hints?: Omit<PatchError, 'code' | 'message' | 'detail'>
}

/** A catalog error carrying a `detail` and field `errors[]` for the problem document. */
export const withExtra = <E extends Error>(error: E, extra: ProblemExtra): E & ProblemExtra => Object.assign(error, extra)

/** The catalog's codes with their status, in catalog order (for documentation and its check). */
export const catalogStatuses = (): Array<{ code: ErrorCode; status: number }> =>
  (Object.keys(Errors) as ErrorCode[]).map((code) => ({ code, status: new Errors[code]().statusCode! }))

/** The codes of one status, in catalog order, as the OpenAPI descriptions list them. */
export const codesOf = (status: number): ErrorCode[] => catalogStatuses().filter((e) => e.status === status).map((e) => e.code)
