import fp from 'fastify-plugin'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import { problems } from '../src/schemas/api.js'
import type { CheckStatus, OverallStatus } from '../src/schemas/health.js'
import { FINAL_STATUSES, type PatchStatus } from '../src/schemas/record.js'
import type { RunnerInfo, Store, TargetCounts } from '../src/store/port.js'

export interface MetricsOptions {
  /** Require the API's credentials on GET /metrics (default: unless config.metricsPublic). */
  requireAuth?: boolean
  /** How long a scrape waits for the store before reporting it down. */
  storeTimeoutMs?: number
}

type FinalStatus = Exclude<PatchStatus, 'queued' | 'running'>

// A patch created before the previous scan's newest patch may still become visible (another
// gateway's transaction commits late, clocks differ); re-reading this window catches it.
const OVERLAP_MS = 5 * 60_000
const PAGE = 100

const pageBreak = () => new Promise<void>((resolve) => setImmediate(resolve))
const isFinal = (s: PatchStatus): s is FinalStatus => (FINAL_STATUSES as readonly string[]).includes(s)

type Totals = Map<string, Map<FinalStatus, number>>
function bump(totals: Totals, target: string, status: FinalStatus, n = 1) {
  let byStatus = totals.get(target)
  if (!byStatus) totals.set(target, (byStatus = new Map()))
  byStatus.set(status, (byStatus.get(status) ?? 0) + n)
}

/** What one pass over the store found; committed whole, so a pass that fails counts nothing twice. */
interface Pass {
  newest: number
  accepted: Map<string, number>
  finished: Totals
  opened: Set<string>
  closed: Set<string>
  recent: Map<string, number>
}

/**
 * Patches accepted and finished per target, kept from `store.list()` because the port offers no
 * per-status totals. Values come from the store, so every gateway agrees and nothing resets on
 * restart; the first pass reads every patch once, later ones only what is new plus the patches
 * last seen queued or running.
 */
export class PatchTally {
  readonly accepted = new Map<string, number>()
  readonly finished: Totals = new Map()
  /** False until one pass has completed: before that there is nothing true to report. */
  ready = false
  #open = new Set<string>()
  #recent = new Map<string, number>()
  #horizon = -Infinity
  #pending: Promise<void> | null = null

  constructor(private readonly store: Store) {}

  /** Single-flight: concurrent scrapes share one pass over the store. */
  refresh(): Promise<void> {
    this.#pending ??= this.#refresh().finally(() => (this.#pending = null))
    return this.#pending
  }

  async #refresh() {
    const pass: Pass = { newest: this.#horizon, accepted: new Map(), finished: new Map(), opened: new Set(), closed: new Set(), recent: new Map() }
    await this.#readNew(pass)
    await this.#settleOpen(pass)
    for (const [target, n] of pass.accepted) this.accepted.set(target, (this.accepted.get(target) ?? 0) + n)
    for (const [target, byStatus] of pass.finished) for (const [status, n] of byStatus) bump(this.finished, target, status, n)
    for (const id of pass.opened) this.#open.add(id)
    for (const id of pass.closed) this.#open.delete(id)
    for (const [id, at] of pass.recent) this.#recent.set(id, at)
    this.#horizon = pass.newest
    for (const [id, at] of this.#recent) if (at < pass.newest - OVERLAP_MS) this.#recent.delete(id)
    this.ready = true
  }

  async #readNew(pass: Pass) {
    const stopAt = this.#horizon - OVERLAP_MS
    let cursor: string | undefined
    for (;;) {
      const page = await this.store.list({ cursor, limit: PAGE })
      for (const p of page.items) {
        const at = Date.parse(p.created_at)
        if (at < stopAt) return
        if (at > pass.newest) pass.newest = at
        if (this.#recent.has(p.id)) continue
        // Only the overlap window needs remembering; older patches are never read again.
        if (at >= pass.newest - OVERLAP_MS) pass.recent.set(p.id, at)
        pass.accepted.set(p.target, (pass.accepted.get(p.target) ?? 0) + 1)
        if (isFinal(p.status)) bump(pass.finished, p.target, p.status)
        else pass.opened.add(p.id)
      }
      if (page.next_cursor === null) return
      cursor = page.next_cursor
      await pageBreak()
    }
  }

  async #settleOpen(pass: Pass) {
    if (this.#open.size === 0) return
    const open = new Set<string>()
    for (const status of ['queued', 'running'] as const) {
      let cursor: string | undefined
      do {
        const page = await this.store.list({ status, cursor, limit: PAGE })
        for (const p of page.items) open.add(p.id)
        cursor = page.next_cursor ?? undefined
      } while (cursor !== undefined)
    }
    for (const id of this.#open) {
      if (open.has(id)) continue
      // Not in either list: it finished, or moved between the two reads (then it stays open).
      const record = await this.store.get(id)
      if (record && !isFinal(record.status)) continue
      pass.closed.add(id)
      if (record && isFinal(record.status)) bump(pass.finished, record.target, record.status)
    }
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The registry GET /metrics serves; other plugins add their own metrics to it. */
    metricsRegistry: Registry
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
  /** Whether the patch totals can be served (one pass has completed). */
  tallied: boolean
}

const seconds = (ms: number) => Math.max(0, ms) / 1000

/**
 * GET /metrics in the Prometheus text format, from a private registry. Store-derived values are
 * read at scrape time, so every gateway on one database reports the same numbers and nothing
 * resets on restart; a store that fails or stalls costs only its own series (`ghost_store_up 0`).
 */
export default fp<MetricsOptions>(
  async (app, opts) => {
    const registry = new Registry()
    const perProcess = processRegistry()
    app.decorate('metricsRegistry', registry)
    const registers = [registry]
    const storeTimeoutMs = opts.storeTimeoutMs ?? 3000
    const requireAuth = opts.requireAuth ?? !app.config.metricsPublic

    const duration = new Histogram({
      name: 'ghost_http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers,
    })
    // The route pattern, never the URL: ids in paths would make a series per patch.
    // A callback hook, not an async one: it runs on every request, health polls included.
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched'
      duration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
      done()
    })

    const tally = new PatchTally(app.store)
    const readStore = async (): Promise<StoreSnapshot | null> => {
      const tallied = withTimeout(tally.refresh(), storeTimeoutMs).catch((err: unknown) => app.log.debug({ err }, 'patch totals not refreshed'))
      try {
        const [counts, runners] = await withTimeout(Promise.all([app.store.counts(), app.store.runners()]), storeTimeoutMs)
        await tallied
        return { counts, runners, tallied: tally.ready }
      } catch (err) {
        app.log.warn({ err }, 'metrics: the store is unavailable')
        return null
      }
    }
    // Every collect() of one scrape starts in the same tick, so they share one read of the store.
    let inFlight: Promise<StoreSnapshot | null> | null = null
    const snapshot = () => (inFlight ??= readStore().finally(() => (inFlight = null)))

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
      help: 'Patches accepted (stored and queued) per target, counted from the store.',
      labelNames: ['target'] as const,
      registers,
      async collect() {
        const s = await snapshot()
        this.reset()
        if (!s?.tallied) return
        for (const c of s.counts) this.inc({ target: c.target }, 0)
        for (const [target, n] of tally.accepted) this.inc({ target }, n)
      },
    })
    new Counter({
      name: 'ghost_patches_finished_total',
      help: 'Patches that reached a final status (applied, failed, rejected, cancelled) per target, counted from the store.',
      labelNames: ['target', 'status'] as const,
      registers,
      async collect() {
        const s = await snapshot()
        this.reset()
        if (!s?.tallied) return
        const targets = new Set([...s.counts.map((c) => c.target), ...tally.accepted.keys()])
        for (const target of targets) {
          for (const status of FINAL_STATUSES) this.inc({ target, status }, tally.finished.get(target)?.get(status as FinalStatus) ?? 0)
        }
      },
    })
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
    registerProbeMetrics(app, registers)

    app.get(
      '/metrics',
      {
        ...(requireAuth ? { preValidation: app.authenticate } : {}),
        schema: {
          operationId: 'getMetrics',
          summary: 'Prometheus metrics',
          description:
            'Prometheus text exposition format: HTTP durations by route and status, patches accepted and finished per target, queue depth and oldest-queued age, runner heartbeat age, probe status and duration, process metrics. It carries counts and timings only, never payloads, paths or secrets; it needs an API bearer token unless GHOST_METRICS_PUBLIC=true. A store that does not answer leaves its series out and sets ghost_store_up to 0; the scrape itself still succeeds.',
          tags: ['health'],
          ...(requireAuth ? { security: [{ bearerAuth: [] }] } : {}),
          response: {
            200: { description: 'Metrics in the Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } },
            ...(requireAuth ? problems(401) : {}),
          },
        },
      },
      async (_request, reply) => {
        const [own, shared] = await Promise.all([registry.metrics(), perProcess.metrics()])
        return reply.type(registry.contentType).send(own + shared)
      },
    )
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
