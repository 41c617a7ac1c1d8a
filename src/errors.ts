import createError from '@fastify/error'

// The one catalog of coded errors the HTTP API sends. Codes are part of the API contract:
// clients match on `code`, so a code never changes meaning once published.
export const Errors = {
  VALIDATION_FAILED: createError('VALIDATION_FAILED', 'The request body does not match the schema', 400),
  MALFORMED_JSON: createError('MALFORMED_JSON', 'The request body is not valid JSON: %s', 400),
  FORBIDDEN_KEY: createError('FORBIDDEN_KEY', 'The body contains a forbidden key (__proto__ or constructor.prototype)', 400),
  JSON_TOO_DEEP: createError('JSON_TOO_DEEP', 'The request body nests deeper than %s levels', 400),
  UNAUTHORIZED: createError('UNAUTHORIZED', '%s', 401),
  FORBIDDEN: createError('FORBIDDEN', '%s', 403),
  NOT_FOUND: createError('NOT_FOUND', '%s', 404),
  ROUTE_NOT_FOUND: createError('ROUTE_NOT_FOUND', 'No route %s %s', 404),
  METHOD_NOT_ALLOWED: createError('METHOD_NOT_ALLOWED', '%s', 405),
  IDEMPOTENCY_CONFLICT: createError('IDEMPOTENCY_CONFLICT', 'Idempotency key %s was already used with a different body', 409),
  NOT_CANCELLABLE: createError('NOT_CANCELLABLE', 'Patch %s can no longer be cancelled: %s', 409),
  PAYLOAD_TOO_LARGE: createError('PAYLOAD_TOO_LARGE', 'The request body exceeds %s bytes', 413),
  UNSUPPORTED_MEDIA_TYPE: createError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json', 415),
  INVALID_PATCH: createError('INVALID_PATCH', 'The patch cannot be accepted', 422),
  RATE_LIMITED: createError('RATE_LIMITED', 'Too many requests; retry in %s seconds', 429),
  QUEUE_FULL: createError('QUEUE_FULL', 'The queue holds %s patches; retry later', 503),
  STORE_UNAVAILABLE: createError('STORE_UNAVAILABLE', 'The patch store is unavailable; retry later', 503),
  SHUTTING_DOWN: createError('SHUTTING_DOWN', 'The server is shutting down', 503),
  INTERNAL: createError('INTERNAL', 'Internal server error', 500),
} as const

export type ErrorCode = keyof typeof Errors
