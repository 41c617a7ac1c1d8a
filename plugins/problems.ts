import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { Errors } from '../src/errors.js'
import type { Problem, ProblemFieldError } from '../src/schemas/problem.js'

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

declare module 'fastify' {
  interface FastifyReply {
    /** Sends an RFC 9457 problem document. */
    problem(status: number, code: string, title: string, extra?: { detail?: string; errors?: ProblemFieldError[] }): FastifyReply
  }
}

export function toProblem(error: FastifyError & { errors?: ProblemFieldError[] }, request: FastifyRequest): Problem {
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
  } else if (error.errors) {
    problem.errors = error.errors
  }
  return problem
}

function titleFor(code: string, error: FastifyError): string {
  if (code === 'MALFORMED_JSON') return 'The request body is not valid JSON'
  if (code === 'VALIDATION_FAILED') return 'The request does not match the schema'
  return error.message
}

/** One root error handler and the 404 handler: every 4xx/5xx leaves as problem+json. */
export default fp(
  async (app) => {
    app.decorateReply('problem', function (this: FastifyReply, status, code, title, extra = {}) {
      const body: Problem = { type: 'about:blank', title, status, code, instance: this.request.url, ...extra }
      return this.code(status).type('application/problem+json').send(body)
    })

    app.setErrorHandler((error: FastifyError, request, reply) => {
      const problem = toProblem(error, request)
      if (problem.status >= 500) request.log.error({ err: error }, 'request failed')
      else request.log.info({ code: problem.code, status: problem.status }, problem.title)
      if (problem.status === 429 || problem.status === 503) {
        if (!reply.getHeader('retry-after')) reply.header('retry-after', '1')
      }
      return reply.code(problem.status).type('application/problem+json').send(problem)
    })

    app.setNotFoundHandler((request, reply) => {
      reply.problem(404, 'ROUTE_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`)
    })
  },
  { name: 'problems' },
)
