import { hash, timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isLoopback } from '../src/config.js'
import { Errors, withExtra } from '../src/errors.js'
import { ANONYMOUS, principalKey, type Principal } from '../src/auth/principal.js'
import { describeCredentials, resolveCredentials, type Credentials } from '../src/auth/credentials.js'
import { hasRight, type Right } from '../src/auth/rights.js'
import { matchingKey, type SignatureFailure, type SignatureHeaders } from '../src/auth/webhook-signature.js'

const digest = (s: string) => hash('sha256', s, 'buffer')

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * onRequest hook of every protected route: a valid bearer token, decided before the body is
     * read. Signatures open nothing here.
     */
    requireToken: Hook
    /**
     * onRequest hook of POST /webhook: a valid bearer token, or Standard Webhooks headers whose
     * signature `verifySignature` checks once the body is read (the principal stays null until then).
     */
    requireTokenOrSignature: Hook
    /**
     * Settles a signature left pending by requireTokenOrSignature over the raw body: sets the
     * principal, or throws 401. Runs before any parse; a no-op once the principal is known.
     */
    verifySignature: (request: FastifyRequest, body: Buffer) => Promise<void>
    /**
     * onRequest hook: requireToken, then 403 FORBIDDEN unless the credential holds `right` (at
     * any reach: whether a given patch is within it is the route's to judge).
     */
    requireRight: (right: Right) => Hook
    /**
     * 403 FORBIDDEN unless the authenticated credential holds `right`; a principal still pending
     * (a signature not yet verified) passes here and is judged again once it is known.
     */
    authorize: (right: Right) => Hook
    /** True when the request carries a valid bearer token (no side effects; for optional detail). */
    hasValidToken: (request: FastifyRequest) => boolean
    /** Whether the server runs without any credential (loopback only). */
    authOpen: boolean
  }
  interface FastifyRequest {
    /** Who the request authenticated as; null until authentication has succeeded. */
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

const hasSignatureHeaders = (request: FastifyRequest) =>
  request.headers['webhook-signature'] !== undefined || request.headers['webhook-id'] !== undefined || request.headers['webhook-timestamp'] !== undefined

type Failures = ReturnType<FastifyInstance['createRateLimit']>
type Refusals = ReturnType<typeof refusals>
type TokenAuth = ReturnType<typeof tokenChecks>['tokenAuth']

const bearer = (request: FastifyRequest): string | null => {
  const header = request.headers.authorization
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
  return m ? m[1]! : null
}

/**
 * A refusal sent before the body was read closes the connection: otherwise the server would
 * go on reading (and the client go on trickling) an unauthenticated body it will never use.
 */
const closeUnreadBody = (request: FastifyRequest, reply: FastifyReply) => {
  const length = request.headers['content-length']
  if ((length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined) reply.header('connection', 'close')
}

/** Refuses to run open anywhere but loopback, and says in the log which credentials are loaded. */
function announce(app: FastifyInstance, credentials: Credentials, open: boolean): void {
  const { host } = app.config
  if (open && !isLoopback(host)) {
    throw new Error(`refusing to listen on ${host} without credentials: set GHOST_WEBHOOK_SECRETS, GHOST_API_TOKENS or credentials`)
  }
  if (open) {
    app.log.warn('no credentials configured (GHOST_WEBHOOK_SECRETS, GHOST_API_TOKENS, credentials): accepting unauthenticated requests on loopback only')
    return
  }
  // Names and scopes only: this is how an operator checks a rotation took, without a value in the log.
  app.log.info({ credentials: describeCredentials(credentials) }, 'credentials loaded')
  if (credentials.tokens.length === 0) app.log.warn('no bearer token configured: signed patches are accepted on POST /webhook, but nothing can read them back (the API, /mcp and event streams take bearer tokens only)')
}

/** The per-credential limits routes opt into, and the count of failed authentications per address. */
async function registerLimits(app: FastifyInstance): Promise<Failures> {
  // Routes opt in with `config: { rateLimit: {...} }`; their key is the principal, so a limit
  // must run after authentication (hook: preValidation or later).
  await app.register(rateLimit, {
    global: false,
    keyGenerator: (request) => principalKey(request.principal ?? ANONYMOUS, request.ip),
    errorResponseBuilder: (_request, context) => new Errors.RATE_LIMITED(Math.ceil(context.ttl / 1000)),
  })
  return app.createRateLimit({
    max: app.config.limits.unauthenticatedPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => `address:${request.ip}`,
  })
}

/** The answers to a failed authentication, each counted against the address (or refused for it). */
function refusals(failures: Failures) {
  /** 429 when this address has used up its failures, before anything else is looked at. */
  const refuseExhausted = async (request: FastifyRequest, reply: FastifyReply) => {
    const state = await failures(request, { increment: false })
    if (state.isAllowed || state.remaining > 0) return
    closeUnreadBody(request, reply)
    reply.header('retry-after', String(Math.max(1, state.ttlInSeconds)))
    throw new Errors.RATE_LIMITED(Math.max(1, state.ttlInSeconds))
  }
  /** Counts a failed attempt against the address and throws 401. */
  const deny = async (request: FastifyRequest, reply: FastifyReply, title: string, detail?: string): Promise<never> => {
    await failures(request)
    closeUnreadBody(request, reply)
    reply.header('www-authenticate', 'Bearer')
    throw withExtra(new Errors.UNAUTHORIZED(title), detail === undefined ? {} : { detail })
  }
  return { failures, refuseExhausted, deny }
}

/** Bearer tokens, compared as SHA-256 digests with timingSafeEqual. */
function tokenChecks(credentials: Credentials, { refuseExhausted, deny }: Refusals) {
  const tokens = credentials.tokens.map((t) => t.digest)
  /** The index of the configured token, or -1; every token is compared, whichever matches. */
  const tokenIndex = (token: string) => {
    const d = digest(token)
    let index = -1
    for (const [i, t] of tokens.entries()) if (timingSafeEqual(t, d)) index = i
    return index
  }
  const hasValidToken = (request: FastifyRequest) => {
    const token = bearer(request)
    return token !== null && tokenIndex(token) >= 0
  }
  /**
   * Settles a bearer token: 'ok' (principal set) or 'absent'. An invalid one is refused (thrown)
   * whatever else the request carries.
   */
  const tokenAuth = async (request: FastifyRequest, reply: FastifyReply): Promise<'ok' | 'absent'> => {
    const token = bearer(request)
    if (token === null) return 'absent'
    const index = tokenIndex(token)
    if (index >= 0) {
      request.principal = credentials.tokens[index]!.principal
      return 'ok'
    }
    await refuseExhausted(request, reply)
    return deny(request, reply, 'The bearer token is not valid')
  }
  return { hasValidToken, tokenAuth }
}

/** requireToken and requireTokenOrSignature: the onRequest hooks of protected routes. */
function authenticators(tokenAuth: TokenAuth, open: boolean, hasKeys: boolean, { refuseExhausted, deny }: Refusals) {
  const requireToken: Hook = async (request, reply) => {
    if ((await tokenAuth(request, reply)) !== 'absent') return
    if (open) {
      request.principal = ANONYMOUS
      return
    }
    await refuseExhausted(request, reply)
    const detail = hasSignatureHeaders(request)
      ? 'This route takes Authorization: Bearer <token>; Standard Webhooks signatures authenticate POST /webhook only'
      : 'Send Authorization: Bearer <token>'
    await deny(request, reply, 'Credentials required', detail)
  }
  const requireTokenOrSignature: Hook = async (request, reply) => {
    if ((await tokenAuth(request, reply)) !== 'absent') return
    if (hasKeys && hasSignatureHeaders(request)) {
      // Settled by verifySignature once the body is in; an address past its failures is not
      // worth reading a body for.
      await refuseExhausted(request, reply)
      return
    }
    if (open) {
      request.principal = ANONYMOUS
      return
    }
    await refuseExhausted(request, reply)
    await deny(request, reply, 'Credentials required', 'Send Authorization: Bearer <token> or Standard Webhooks signature headers')
  }
  return { requireToken, requireTokenOrSignature }
}

/**
 * Settles a pending signature over the raw body. Called from the body parser, which has no reply
 * to answer with: the error is the answer.
 */
function signatureCheck(credentials: Credentials, failures: Failures) {
  const keys = credentials.secrets.map((s) => s.key)
  return async (request: FastifyRequest, body: Buffer) => {
    if (request.principal !== null) return
    const matched = matchingKey(keys, request.headers as SignatureHeaders, body)
    if (typeof matched === 'number') {
      request.principal = credentials.secrets[matched]!.principal
      return
    }
    await failures(request)
    throw new Errors.UNAUTHORIZED(`The webhook signature is not valid: ${SIGNATURE_MESSAGES[matched]}`)
  }
}

// A refusal by right is not a failed authentication: it counts against nothing.
const authorize = (right: Right) => async (request: FastifyRequest, reply: FastifyReply) => {
  const principal = request.principal
  if (reply.sent || principal === null || hasRight(principal, right)) return
  closeUnreadBody(request, reply)
  throw new Errors.FORBIDDEN(`Credential "${principal.name}" does not hold the ${right} right`)
}

/**
 * Authentication: bearer tokens for every protected route, checked in onRequest so that nothing
 * of an unauthenticated body is read; Standard Webhooks signatures for POST /webhook only (they
 * cover `id.timestamp.body`, nothing that names a route or method), verified over the raw bytes
 * before any parse. Tokens are compared as SHA-256 digests with timingSafeEqual, so neither
 * content nor length leaks through timing.
 *
 * Requests that fail authentication are counted per address (limits.unauthenticatedPerMinute)
 * and, past the limit, refused with 429 before their credentials are even looked at. A valid
 * credential never touches that count: clients behind one proxy share an address. The
 * per-credential limits are keyed on the principal, which only exists after authentication.
 *
 * The principal carries its credential's name, workspaces and rights (src/auth/credentials.ts).
 * requireRight / authorize refuse a credential without a route's right with 403 FORBIDDEN, by
 * itself, before the body is read where the credential is already known; whether a given patch
 * or target is within its reach is the route's to judge, with src/auth/rights.ts.
 */
export default fp(
  async (app) => {
    const credentials = resolveCredentials(app.config)
    const open = credentials.secrets.length === 0 && credentials.tokens.length === 0
    announce(app, credentials, open)
    app.decorate('authOpen', open)
    app.decorateRequest('principal', null)
    app.decorateRequest('rawBody', null)

    const refusal = refusals(await registerLimits(app))
    const { hasValidToken, tokenAuth } = tokenChecks(credentials, refusal)
    const { requireToken, requireTokenOrSignature } = authenticators(tokenAuth, open, credentials.secrets.length > 0, refusal)
    app.decorate('hasValidToken', hasValidToken)
    app.decorate('requireToken', requireToken)
    app.decorate('requireTokenOrSignature', requireTokenOrSignature)
    app.decorate('verifySignature', signatureCheck(credentials, refusal.failures))
    app.decorate('authorize', authorize)
    app.decorate('requireRight', (right: Right) => {
      const check = authorize(right)
      return async (request: FastifyRequest, reply: FastifyReply) => {
        await app.requireToken(request, reply)
        await check(request, reply)
      }
    })
  },
  { name: 'auth', dependencies: ['config', 'problems'] },
)
