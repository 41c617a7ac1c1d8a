import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import pkg from '../../package.json' with { type: 'json' }
import { healthBodies, IetfHealthReport, IetfHealthUnavailable, LiveBody, ReadyBody, StartupBody, type ReadyBody as Ready } from '../schemas/health.js'
import { Headers, problemContent } from '../schemas/api.js'
import { httpStatusFor, ietfBody, legacyBody } from '../health/bodies.js'
import type { HealthState } from '../health/registry.js'

const HEALTH_JSON = 'application/health+json'
const JSON_TYPE = 'application/json; charset=utf-8'
const HEALTH_JSON_TYPE = `${HEALTH_JSON}; charset=utf-8`
// Fixed-length stand-in for the timestamp of a body serialised once per state.
const PLACEHOLDER = new Date(0).toISOString()
const HEAD = '{"timestamp":"'

const json = <T>(schema: T) => ({ 'application/json': { schema } })
/** A 503 body of the route's own, or 503 SHUTTING_DOWN once the listener has closed. */
const unavailable = <T extends object>(description: string, content: T) => ({
  description: `${description}; see Retry-After. Once the listener has closed: a problem, code SHUTTING_DOWN`,
  headers: Headers.retryAfter,
  content: { ...content, ...problemContent },
})

/**
 * Bodies serialised for one state, filled lazily, indexed [anonymous, detailed]. A legacy body is
 * kept as what follows its timestamp: HEAD + timestamp + tail is the whole body.
 */
interface Rendered {
  state: HealthState
  legacyTail: [string | null, string | null]
  ietf: [string | null, string | null]
}

/** The route's compiled response-schema serialiser (fast-json-stringify) for a status and content type. */
function serialize(reply: FastifyReply, body: object, code: number, contentType: string): string {
  const fn = reply.getSerializationFunction(String(code), contentType)
  if (!fn) throw new Error(`no response schema for ${code} ${contentType}`)
  return fn(body as Record<string, unknown>)
}

const retryAfterSeconds = (state: HealthState) => String(Math.max(1, Math.ceil(state.minIntervalMs / 1000)))

/**
 * GET /health: sends bytes serialised (through the response schema) once per state change, with
 * only the timestamp spliced in per request.
 */
function healthReportRoute(app: FastifyInstance) {
  const { exposeDetail } = app.config.health
  const version = pkg.version
  // The probes are registered (app.ts) before the routes: their places make the body's schema.
  const health = healthBodies(app.probes.places())

  let rendered: Rendered | null = null
  const renderedFor = (state: HealthState): Rendered => {
    if (rendered?.state !== state) rendered = { state, legacyTail: [null, null], ietf: [null, null] }
    return rendered
  }
  const wantsDetail = (request: FastifyRequest) => exposeDetail || (request.headers.authorization !== undefined && app.hasValidToken(request))

  app.get(
    '/health',
    {
      schema: {
        operationId: 'getHealth',
        summary: 'Component health',
        description:
          'Overall status, component map, system metrics and per-probe checks, from cached probe results. 200 when healthy or degraded, 503 when unhealthy or unknown. `Accept: application/health+json` answers in the draft-inadarei-api-health-check format. A valid bearer token adds failure output.',
        tags: ['health'],
        security: [{}, { bearerAuth: [] }],
        response: {
          200: { description: 'healthy or degraded', content: { 'application/json': { schema: health.report }, [HEALTH_JSON]: { schema: IetfHealthReport } } },
          503: unavailable('unhealthy or unknown', { 'application/json': { schema: health.unavailable }, [HEALTH_JSON]: { schema: IetfHealthUnavailable } }),
        },
      },
    },
    (request, reply) => {
      const state = app.probes.state()
      const code = httpStatusFor(state.overall)
      const detail = wantsDetail(request)
      const r = renderedFor(state)
      const i = detail ? 1 : 0
      reply.code(code).header('vary', 'Accept, Authorization')
      if (code === 503) reply.header('retry-after', retryAfterSeconds(state))

      if (request.headers.accept?.includes(HEALTH_JSON)) {
        // A cached answer must never outlive the shortest probe interval, nor a token holder's
        // detail reach a shared cache.
        const maxAge = Math.floor(state.minIntervalMs / 1000)
        reply.header('cache-control', `${detail ? 'private, ' : ''}max-age=${maxAge}`)
        const body = (r.ietf[i] ??= serialize(reply, ietfBody(state, { version, detail }), code, HEALTH_JSON))
        reply.type(HEALTH_JSON_TYPE).send(body)
        return
      }
      let tail = r.legacyTail[i]
      if (tail === null) {
        const text = serialize(reply, legacyBody(state, { version, detail, timestamp: PLACEHOLDER }), code, 'application/json')
        if (!text.startsWith(HEAD + PLACEHOLDER)) throw new Error('health body layout changed: timestamp must be serialised first')
        tail = r.legacyTail[i] = text.slice(HEAD.length + PLACEHOLDER.length)
      }
      reply.type(JSON_TYPE).send(HEAD + new Date().toISOString() + tail)
    },
  )
}

/** GET /health/live: the event loop only, from the http_responsive probe's last measurement. */
function liveRoute(app: FastifyInstance) {
  const { eventLoopFailMs } = app.config.health
  app.get(
    '/health/live',
    {
      schema: {
        operationId: 'getHealthLive',
        summary: 'Liveness: the process only',
        description: 'Checks nothing outside the process: 503 only when the last event-loop measurement reached eventLoopFailMs. Stays 200 while draining.',
        tags: ['health'],
        security: [],
        response: {
          200: { description: 'the event loop turns', content: json(LiveBody) },
          503: unavailable('the event loop is stuck', json(LiveBody)),
        },
      },
    },
    (_request, reply) => {
      const latest = app.probes.latest('http_responsive')
      const delay = latest?.outcome?.observedValue
      const delayMs = typeof delay === 'number' ? delay : null
      if (delayMs !== null && delayMs >= eventLoopFailMs) {
        reply.code(503).header('retry-after', '1').send({ status: 'fail', event_loop_delay_ms: delayMs } satisfies LiveBody)
      } else {
        reply.send({ status: 'pass', event_loop_delay_ms: delayMs } satisfies LiveBody)
      }
    },
  )
}

const STARTED: StartupBody = { status: 'started' }
const STARTING: StartupBody = { status: 'starting' }

/** GET /health/startup: 200 for good once the first probe round has completed. */
function startupRoute(app: FastifyInstance) {
  app.get(
    '/health/startup',
    {
      schema: {
        operationId: 'getHealthStartup',
        summary: 'Startup: the first probe round has completed',
        description: '503 until every probe has reported (or timed out) once, then 200 for the life of the process.',
        tags: ['health'],
        security: [],
        response: {
          200: { description: 'started', content: json(StartupBody) },
          503: unavailable('still starting', json(StartupBody)),
        },
      },
    },
    (_request, reply) => {
      if (app.lifecycle.started) reply.send(STARTED)
      else reply.code(503).header('retry-after', '1').send(STARTING)
    },
  )
}

/** GET /health/ready: whether a load balancer should send this instance traffic. */
function readyRoute(app: FastifyInstance) {
  app.get(
    '/health/ready',
    {
      schema: {
        operationId: 'getHealthReady',
        summary: 'Readiness: should this instance get traffic',
        description: '503 while starting, while draining, and while the overall status is unhealthy or unknown; 200 otherwise (degraded included).',
        tags: ['health'],
        security: [],
        response: {
          200: { description: 'ready', content: json(ReadyBody) },
          503: unavailable('not ready', json(ReadyBody)),
        },
      },
    },
    (_request, reply) => {
      const state = app.probes.state()
      const { lifecycle } = app
      const reason: Ready['reason'] = !lifecycle.started
        ? 'starting'
        : lifecycle.draining
          ? 'draining'
          : state.overall === 'unhealthy' || state.overall === 'unknown'
            ? state.overall
            : undefined
      if (reason === undefined) reply.send({ status: 'ready', overall_status: state.overall } satisfies Ready)
      else reply.code(503).header('retry-after', retryAfterSeconds(state)).send({ status: 'not_ready', reason, overall_status: state.overall } satisfies Ready)
    },
  )
}

/**
 * GET /health, /health/live, /health/startup, /health/ready. Handlers are synchronous and send
 * directly: there is nothing to await. A request never waits on a probe: it reads the registry's
 * composed state.
 */
export default async function healthRoutes(app: FastifyInstance) {
  healthReportRoute(app)
  liveRoute(app)
  startupRoute(app)
  readyRoute(app)
}
