import { hash, timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { isLoopback } from '../src/config.js'
import { secretKey, verify, type SignatureFailure, type SignatureHeaders } from '../src/auth/webhook-signature.js'

export type Principal = { kind: 'token' } | { kind: 'signature'; webhookId: string } | { kind: 'anonymous-loopback' }

const digest = (s: string) => hash('sha256', s, 'buffer')

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler for protected routes: bearer token, or a Standard Webhooks signature over the raw body. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /** True when the request carries a valid bearer token (no side effects; for optional detail). */
    hasValidToken: (request: FastifyRequest) => boolean
    /** Whether the server runs without any credential (loopback only). */
    authOpen: boolean
  }
  interface FastifyRequest {
    principal: Principal | null
    /** The exact bytes of the body, kept by the JSON parser of routes that verify signatures. */
    rawBody: Buffer | null
  }
}

const SIGNATURE_MESSAGES: Record<SignatureFailure, string> = {
  MISSING_HEADERS: 'webhook-id, webhook-timestamp and webhook-signature headers are required',
  BAD_TIMESTAMP: 'webhook-timestamp must be integer seconds since the epoch',
  TIMESTAMP_OUT_OF_TOLERANCE: 'webhook-timestamp is more than 5 minutes away from the server clock',
  NO_MATCHING_SIGNATURE: 'no webhook-signature matches the body with a configured secret',
}

/**
 * Authentication for every route but health and docs. Tokens are compared as SHA-256 digests
 * with timingSafeEqual, so neither content nor length leaks through timing.
 */
export default fp(
  async (app) => {
    const { webhookSecrets, apiTokens, host } = app.config
    const keys = webhookSecrets.map(secretKey)
    const tokens = apiTokens.map(digest)
    const open = keys.length === 0 && tokens.length === 0
    if (open && !isLoopback(host)) {
      throw new Error(`refusing to listen on ${host} without credentials: set GHOST_WEBHOOK_SECRETS or GHOST_API_TOKENS`)
    }
    if (open) app.log.warn('no GHOST_WEBHOOK_SECRETS or GHOST_API_TOKENS set: accepting unauthenticated requests on loopback only')
    app.decorate('authOpen', open)
    app.decorateRequest('principal', null)
    app.decorateRequest('rawBody', null)

    const bearer = (request: FastifyRequest): string | null => {
      const header = request.headers.authorization
      const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
      return m ? m[1]! : null
    }
    const tokenMatches = (token: string) => {
      const d = digest(token)
      let ok = false
      for (const t of tokens) ok = timingSafeEqual(t, d) || ok
      return ok
    }
    app.decorate('hasValidToken', (request: FastifyRequest) => {
      const token = bearer(request)
      return token !== null && tokenMatches(token)
    })

    app.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
      const token = bearer(request)
      if (token !== null) {
        if (tokenMatches(token)) {
          request.principal = { kind: 'token' }
          return
        }
        return void reply.header('www-authenticate', 'Bearer').problem(401, 'UNAUTHORIZED', 'The bearer token is not valid')
      }
      if (request.headers['webhook-signature'] !== undefined && keys.length > 0) {
        const failure = verify(keys, request.headers as SignatureHeaders, request.rawBody ?? Buffer.alloc(0))
        if (failure === null) {
          request.principal = { kind: 'signature', webhookId: String(request.headers['webhook-id']) }
          return
        }
        return void reply.problem(401, 'UNAUTHORIZED', 'The webhook signature is not valid', { detail: SIGNATURE_MESSAGES[failure] })
      }
      if (open) {
        request.principal = { kind: 'anonymous-loopback' }
        return
      }
      reply.header('www-authenticate', 'Bearer')
      return void reply.problem(401, 'UNAUTHORIZED', 'Credentials required', {
        detail: 'Send Authorization: Bearer <token> or Standard Webhooks signature headers',
      })
    })
  },
  { name: 'auth', dependencies: ['config', 'problems'] },
)
