import Fastify, { LogController, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import sensible from '@fastify/sensible'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './config.js'
import type { Store } from './store/port.js'
import { LIMITS } from './schemas/limits.js'
import configPlugin from '../plugins/config.js'
import problems from '../plugins/problems.js'
import lifecycle from '../plugins/lifecycle.js'
import openapi from '../plugins/openapi.js'
import storePlugin from '../plugins/store.js'
import auth from '../plugins/auth.js'
import probeRegistry from '../plugins/probe-registry.js'
import probes from '../probes/index.js'
import healthRoutes from './routes/health.js'
import webhookRoutes from './routes/webhook.js'
import patchRoutes from './routes/patches.js'
import runnerPlugin from '../plugins/runner.js'
import notifyPlugin from '../plugins/notify.js'
import metrics from '../plugins/metrics.js'
import eventRoutes from './routes/events.js'
import mcpRoutes from './routes/mcp.js'

export interface BuildOptions {
  logger?: FastifyServerOptions['logger']
  /** A store opened by the caller (kept open on close); by default the configured one is opened. */
  store?: Store
  /** Run a patch runner in this process (`ghost-runner start`). */
  runner?: boolean
}

// Load balancers and scrapers call these every few seconds from many places: their request
// lines would drown the log, so they are written only at debug level.
const POLLED_ROUTES = new Set(['/health', '/health/live', '/health/startup', '/health/ready', '/metrics'])
const VERBOSE = new Set(['debug', 'trace'])
const quietWhenPolled = (request: FastifyRequest) => POLLED_ROUTES.has(request.routeOptions.url ?? '') && !VERBOSE.has(request.log.level)

/** The one composition root: every plugin, probe and route is registered here, in this order. */
export async function buildApp(config: Config, opts: BuildOptions = {}) {
  const app = Fastify({
    logger: opts.logger ?? false,
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
    ajv: { customOptions: { allErrors: true } },
  }).withTypeProvider<TypeBoxTypeProvider>()

  await app.register(configPlugin, { config })
  await app.register(problems)
  await app.register(sensible)
  await app.register(lifecycle)
  await app.register(openapi)
  await app.register(storePlugin, { store: opts.store })
  await app.register(auth)
  await app.register(probeRegistry)
  await app.register(probes)
  await app.register(metrics)

  await app.register(healthRoutes)
  await app.register(webhookRoutes)
  await app.register(patchRoutes)
  await app.register(eventRoutes)
  await app.register(mcpRoutes)
  await app.register(notifyPlugin)
  if (opts.runner) await app.register(runnerPlugin)
  return app
}

export type App = Awaited<ReturnType<typeof buildApp>>
