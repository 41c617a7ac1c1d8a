import Fastify, { LogController, type FastifyPluginAsync, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './config.js'
import type { Store } from './store/port.js'
import { LIMITS } from './schemas/limits.js'
import { StreamSlots } from './streams/stream-slots.js'

export interface BuildOptions {
  logger?: FastifyServerOptions['logger']
  /** A store opened by the caller (kept open on close); by default the configured one is opened. */
  store?: Store
  /** Run a patch runner in this process (`ghost-runner start`). */
  runner?: boolean
  /**
   * Registered before every other plugin, so its hooks see every request: tests check each
   * response against openapi.yaml with it. Nothing in production sets it.
   */
  instrument?: FastifyPluginAsync
}

// Load balancers and scrapers call these every few seconds from many places: their request
// lines would drown the log, so they are written only at debug level.
const POLLED_ROUTES = new Set(['/health', '/health/live', '/health/startup', '/health/ready', '/metrics'])
const VERBOSE = new Set(['debug', 'trace'])
const quietWhenPolled = (request: FastifyRequest) => POLLED_ROUTES.has(request.routeOptions.url ?? '') && !VERBOSE.has(request.log.level)

/** The instance every command is built on: logger, body limit, parser hardening and socket timeouts. */
function createInstance(logger: FastifyServerOptions['logger']) {
  return Fastify({
    logger: logger ?? false,
    logController: new LogController({ disableRequestLogging: quietWhenPolled }),
    bodyLimit: LIMITS.bodyBytes,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Slow clients cannot hold a socket forever (slowloris): headers 10 s, whole request 30 s,
    // idle socket 60 s, checked every second (Node's default check runs every 30 s); headers
    // beyond 16 KiB are refused with 431.
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    keepAliveTimeout: 5_000,
    http: { headersTimeout: 10_000, maxHeaderSize: 16 * 1024, connectionsCheckingInterval: 1_000 },
    routerOptions: { maxParamLength: 200 },
    // A request arriving after the listener closed gets our problem+json 503 SHUTTING_DOWN
    // (plugins/lifecycle.ts), not Fastify's generic body.
    return503OnClosing: false,
    ajv: { customOptions: { allErrors: true } },
    // A response schema with a union (a patch's operations, say) picks its branch with a
    // validator that is otherwise compiled on the first response that reaches it: tens of
    // milliseconds with the event loop blocked, on the first list after every start.
    serializerOpts: { compileValidators: true },
  }).withTypeProvider<TypeBoxTypeProvider>()
}

/**
 * The one composition root: every plugin, probe and route is registered here, in this order.
 * Each module is imported as it is registered, so `work` (buildWorker) loads only the plugins it
 * runs, not the HTTP side.
 */
export async function buildApp(config: Config, opts: BuildOptions = {}) {
  const app = createInstance(opts.logger)

  if (opts.instrument) await app.register(opts.instrument)
  await app.register(import('../plugins/config.js'), { config })
  await app.register(import('../plugins/problems.js'))
  await app.register(import('@fastify/sensible'))
  await app.register(import('../plugins/lifecycle.js'))
  await app.register(import('../plugins/openapi.js'))
  await app.register(import('../plugins/store.js'), { store: opts.store })
  await app.register(import('../plugins/auth.js'))
  await app.register(import('../plugins/probe-registry.js'))
  await app.register(import('../probes/index.js'))
  await app.register(import('../plugins/metrics.js'))
  await app.register(import('../plugins/retention.js'))

  // In this order, the document's paths' order (openapi.yaml).
  await app.register(import('./routes/docs.js'))
  await app.register(import('./routes/metrics.js'))
  await app.register(import('./routes/health.js'))
  await app.register(import('./routes/webhook.js'))
  await app.register(import('./routes/patches.js'))
  await app.register(import('./routes/patch-diff.js'))
  await app.register(import('./routes/patch-preview.js'))
  await app.register(import('./routes/queues.js'))
  // One count of open streams for both kinds: the caps hold whatever mix a caller opens.
  const streamSlots = new StreamSlots({ perPrincipal: app.config.limits.streamsPerPrincipal, total: app.config.limits.streamsTotal })
  await app.register(import('./routes/events.js'), { slots: streamSlots })
  await app.register(import('./routes/all-events.js'), { slots: streamSlots })
  await app.register(import('./routes/mcp.js'))
  await app.register(import('./routes/ui.js'))
  await app.register(import('../plugins/notify.js'))
  if (opts.runner) await app.register(import('../plugins/runner.js'))
  return app
}

/**
 * `ghost-runner work`: the config, store, notify and runner plugins of `start`, without probes,
 * auth or routes, and never listening. `ready()` starts the dispatcher and the runner; `close()`
 * stops them (in-flight patches first) and then closes the store.
 */
export async function buildWorker(config: Config, opts: Pick<BuildOptions, 'logger' | 'store'> = {}) {
  const app = createInstance(opts.logger)
  await app.register(import('../plugins/config.js'), { config })
  await app.register(import('../plugins/store.js'), { store: opts.store })
  // Runners send notifications too, so a deployment of runners alone still delivers them.
  await app.register(import('../plugins/notify.js'))
  await app.register(import('../plugins/runner.js'))
  return app
}
