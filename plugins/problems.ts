import fp from 'fastify-plugin'
import type { FastifyError, FastifyRequest } from 'fastify'
import { Errors, type ProblemExtra } from '../src/errors.js'
import type { Problem } from '../src/schemas/problem.js'

// Fastify's own error codes, mapped to ours so clients see one vocabulary.
const FASTIFY_CODES: Record<string, keyof typeof Errors> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
  FST_ERR_RATE_LIMIT: 'RATE_LIMITED',
}

export function toProblem(error: FastifyError & ProblemExtra & { detail?: unknown }, request: FastifyRequest): Problem {
  const mapped = error.code ? FASTIFY_CODES[error.code] : undefined
  let status = error.statusCode ?? 500
  if (status < 400 || status > 599) status = 500
  const code = status >= 500 && !(error.code && error.code in Errors) ? 'INTERNAL' : (mapped ?? error.code ?? 'ERROR')
  const problem: Problem = {
    type: `about:blank`,
    title: status >= 500 && code === 'INTERNAL' ? 'Internal server error' : titleFor(code, error),
    status,
    code,
    instance: request.url,
  }
  if (error.validation) {
    problem.errors = error.validation.map((v) => ({
      pointer: v.instancePath || '/',
      detail: v.message ?? 'is invalid',
    }))
    problem.detail = problem.errors.map((e) => `${e.pointer}: ${e.detail}`).join('; ')
  }
  // Our own words for the client (never an internal message: only coded errors carry one).
  if (typeof error.detail === 'string' && code !== 'INTERNAL') problem.detail = error.detail
  if (error.errors && !error.validation) problem.errors = error.errors
  // A previewed patch's rejection hints sit beside the code, as in a rejected record's `error`.
  if (error.hints && code !== 'INTERNAL') Object.assign(problem, error.hints)
  return problem
}

function titleFor(code: string, error: FastifyError): string {
  if (code === 'MALFORMED_JSON') return 'The request body is not valid JSON'
  if (code === 'VALIDATION_FAILED') return 'The request does not match the schema'
  return error.message
}

/** What a log line may say about why the store failed: message and code, never a stack. */
const causeOf = (error: { cause?: unknown }) => {
  const cause = error.cause as { message?: unknown; code?: unknown } | undefined
  if (cause === undefined || cause === null) return undefined
  return { message: String(cause.message ?? cause), ...(typeof cause.code === 'string' && { code: cause.code }) }
}

/**
 * A coded answer is the service doing its job: a client mistake (4xx) at info, a refusal it
 * sends on purpose (503 QUEUE_FULL, STORE_UNAVAILABLE, SHUTTING_DOWN) at warn, both without a
 * stack, which would only point at the line that refused. Only an unexpected failure (500
 * INTERNAL) is an error with its stack.
 */
function logProblem(request: FastifyRequest, problem: Problem, error: FastifyError) {
  const line = { code: problem.code, status: problem.status }
  if (problem.code === 'INTERNAL') request.log.error({ err: error }, 'request failed')
  else if (problem.status >= 500) request.log.warn({ ...line, cause: causeOf(error) }, problem.title)
  else request.log.info(line, problem.title)
}

/** One root error handler and the 404 handler: every 4xx/5xx leaves as problem+json. */
export default fp(
  async (app) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const problem = toProblem(error, request)
      logProblem(request, problem, error)
      if (problem.status === 429 || problem.status === 503) {
        if (!reply.getHeader('retry-after')) reply.header('retry-after', '1')
      }
      return reply.code(problem.status).type('application/problem+json').send(problem)
    })

    app.setNotFoundHandler(async (request) => {
      throw new Errors.ROUTE_NOT_FOUND(request.method, request.url.split('?')[0])
    })
  },
  { name: 'problems' },
)
