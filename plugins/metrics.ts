import fp from 'fastify-plugin'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import type { CheckStatus, OverallStatus } from '../src/schemas/health.js'
import { FINAL_STATUSES } from '../src/schemas/record.js'
import type { RunnerInfo, TargetCounts } from '../src/store/port.js'
import type { StatusTotal } from '../src/store/port/totals.js'

export interface MetricsOptions {
  /** Require the API's credentials on GET /metrics (default: unless config.metricsPublic). */
  requireAuth?: boolean
  /** How long a scrape waits for the store before reporting it down. */
  storeTimeoutMs?: number
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The registry GET /metrics serves; other plugins add their own metrics to it. */
    metricsRegistry: Registry
    /** What GET /metrics (src/routes/metrics.ts) serves: this app's metrics and the process's. */
    metricsExposition: { requireAuth: boolean; contentType: string; render(): Promise<string> }
  }
}

// prom-client 15 has no collection timer to clear, but each collectDefaultMetrics call starts a
// GC observer and an event-loop monitor it never stops; they describe the process, so one set
// per process is shared by every app instance (tests build many).
let processMetrics: Registry | null = null
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry()
    collectDefaultMetrics({ register: processMetrics })
  }
  return processMetrics
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    // Not unref'd: a scrape waiting on the store is work in progress, and it is cleared at once.
    timer = setTimeout(() => reject(new Error(`the store did not answer within ${ms} ms`)), ms)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

interface StoreSnapshot {
  counts: TargetCounts[]
  runners: RunnerInfo[]
  /** Kept by the store with every transition: a few rows per target, however many patches are stored. */
  totals: StatusTotal[]
}

const seconds = (ms: number) => Math.max(0, ms) / 1000

type Snapshot = () => Promise<StoreSnapshot | null>

/** Request durations, by the route pattern, never the URL: ids in paths would make a series per patch. */
function registerHttpMetrics(app: FastifyInstance, registers: Registry[]) {
  const duration = new Histogram({
    name: 'ghost_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers,
  })
  // A callback hook, not an async one: it runs on every request, health polls included.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    duration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
    done()
  })
}

/** One read of the store per scrape, or null when it fails or stalls. */
function storeSnapshots(app: FastifyInstance, storeTimeoutMs: number): Snapshot {
  const readStore = async (): Promise<StoreSnapshot | null> => {
    try {
      const [counts, runners, totals] = await withTimeout(Promise.all([app.store.counts(), app.store.runners(), app.store.totals()]), storeTimeoutMs)
      return { counts, runners, totals }
    } catch (err) {
      app.log.warn({ err }, 'metrics: the store is unavailable')
      return null
    }
  }
  // Every collect() of one scrape starts in the same tick, so they share one read of the store.
  let inFlight: Promise<StoreSnapshot | null> | null = null
  return () => (inFlight ??= readStore().finally(() => (inFlight = null)))
}

/** Whether the store answered, and the patches it counted as accepted and finished. */
function registerPatchCounters(registers: Registry[], snapshot: Snapshot) {
  new Gauge({
    name: 'ghost_store_up',
    help: 'Whether the patch store answered this scrape (1) or not (0).',
    registers,
    async collect() {
      this.set((await snapshot()) === null ? 0 : 1)
    },
  })
  new Counter({
    name: 'ghost_patches_accepted_total',
    help: 'Patches accepted (stored and queued) per target, counted by the store.',
    labelNames: ['target'] as const,
    registers,
    async collect() {
      const s = await snapshot()
      this.reset()
      for (const c of s?.counts ?? []) this.inc({ target: c.target }, 0)
      for (const t of s?.totals ?? []) if (t.status === 'queued') this.inc({ target: t.target }, t.reached)
    },
  })
  new Counter({
    name: 'ghost_patches_finished_total',
    help: 'Patches that reached a final status (applied, failed, rejected, cancelled) per target, counted by the store.',
    labelNames: ['target', 'status'] as const,
    registers,
    async collect() {
      const s = await snapshot()
      this.reset()
      if (!s) return
      for (const target of new Set([...s.counts.map((c) => c.target), ...s.totals.map((t) => t.target)])) {
        for (const status of FINAL_STATUSES) this.inc({ target, status }, 0)
      }
      for (const t of s.totals) if ((FINAL_STATUSES as readonly string[]).includes(t.status)) this.inc({ target: t.target, status: t.status }, t.reached)
    },
  })
}

/** The queue per target as the store holds it now, and how recently each runner reported. */
function registerQueueGauges(registers: Registry[], snapshot: Snapshot) {
  const perTarget = (name: string, help: string, value: (c: TargetCounts, now: number) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['target'] as const,
      registers,
      async collect() {
        const s = await snapshot()
        this.reset()
        const now = Date.now()
        for (const c of s?.counts ?? []) this.set({ target: c.target }, value(c, now))
      },
    })
  perTarget('ghost_queue_depth', 'Patches queued per target.', (c) => c.queued)
  perTarget('ghost_patches_running', 'Patches running per target.', (c) => c.running)
  perTarget('ghost_queue_oldest_age_seconds', 'Age of the oldest queued patch per target (0 when none is queued).', (c, now) =>
    c.oldest_queued_at === null ? 0 : seconds(now - c.oldest_queued_at),
  )
  new Gauge({
    name: 'ghost_runner_heartbeat_age_seconds',
    help: 'Time since each runner last reported.',
    labelNames: ['runner'] as const,
    registers,
    async collect() {
      const s = await snapshot()
      this.reset()
      const now = Date.now()
      for (const r of s?.runners ?? []) this.set({ runner: r.id }, seconds(now - Date.parse(r.last_seen)))
    },
  })
}

/**
 * The metrics GET /metrics serves (src/routes/metrics.ts), from a private registry, in the
 * Prometheus text format. Store-derived values are read at scrape time, so every gateway on one database reports the same numbers and nothing
 * resets on restart; a store that fails or stalls costs only its own series (`ghost_store_up 0`).
 */
export default fp<MetricsOptions>(
  async (app, opts) => {
    const registry = new Registry()
    const perProcess = processRegistry()
    app.decorate('metricsRegistry', registry)
    const registers = [registry]
    const requireAuth = opts.requireAuth ?? !app.config.metricsPublic

    registerHttpMetrics(app, registers)
    const snapshot = storeSnapshots(app, opts.storeTimeoutMs ?? 3000)
    registerPatchCounters(registers, snapshot)
    registerQueueGauges(registers, snapshot)
    registerProbeMetrics(app, registers)

    app.decorate('metricsExposition', {
      requireAuth,
      contentType: registry.contentType,
      render: async () => (await Promise.all([registry.metrics(), perProcess.metrics()])).join(''),
    })
  },
  { name: 'metrics', dependencies: ['config', 'store', 'auth'] },
)

// Keyed by every CheckStatus, so a new status fails to compile here instead of going unreported.
const CHECK_STATUSES = Object.keys({ pass: 0, warn: 0, fail: 0, unknown: 0 } satisfies Record<CheckStatus, 0>) as CheckStatus[]
const OVERALL_STATUSES = Object.keys({ healthy: 0, degraded: 0, unhealthy: 0, unknown: 0 } satisfies Record<OverallStatus, 0>) as OverallStatus[]

/**
 * Probe results from the health registry's composed state (no probe runs for a scrape). Checked
 * at scrape time, so the order in which the registry and this plugin are registered is free.
 */
function registerProbeMetrics(app: FastifyInstance, registers: Registry[]) {
  const state = () => (app.hasDecorator('probes') ? app.probes.state() : null)
  new Gauge({
    name: 'ghost_probe_status',
    help: 'Health probe status: 1 for the status the probe is in, 0 for the others.',
    labelNames: ['probe', 'status'] as const,
    registers,
    collect() {
      this.reset()
      for (const view of state()?.probes ?? []) {
        for (const status of CHECK_STATUSES) this.set({ probe: view.probe.name, status }, view.status === status ? 1 : 0)
      }
    },
  })
  new Gauge({
    name: 'ghost_probe_duration_seconds',
    help: 'How long the last accepted run of each health probe took.',
    labelNames: ['probe'] as const,
    registers,
    collect() {
      this.reset()
      for (const view of state()?.probes ?? []) if (view.durationMs !== null) this.set({ probe: view.probe.name }, view.durationMs / 1000)
    },
  })
  new Gauge({
    name: 'ghost_health_status',
    help: 'Overall health as /health reports it: 1 for the current status, 0 for the others.',
    labelNames: ['status'] as const,
    registers,
    collect() {
      this.reset()
      const current = state()
      if (current) for (const status of OVERALL_STATUSES) this.set({ status }, current.overall === status ? 1 : 0)
    },
  })
}
