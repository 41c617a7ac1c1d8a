import type { CheckStatus, OverallStatus, ProbeOutcome } from '../schemas/health.js'
import { compose, flagFor } from './compose.js'
import { damp, initialDamping, type DampingState } from './damping.js'
import type { HealthPlace } from './place.js'
import type { Probe, ProbeDefinition, RunResult } from './probe.js'
import { Scheduler } from './scheduler.js'

/** A result older than this many intervals is `unknown` when read. */
export const STALE_INTERVALS = 3

export interface RegistryDefaults {
  intervalMs: number
  timeoutMs: number
  failuresToFail: number
  passesToRecover: number
}

/** A probe as requests see it: the damped, freshness-checked state of its last accepted result. */
export interface ProbeView {
  probe: Probe
  status: CheckStatus
  flag: string
  /** The accepted outcome; absent when the accepted run threw or timed out, or none ran yet. */
  outcome?: ProbeOutcome
  /** Why the probe is not passing, for logs and token holders. */
  reason?: string
  /** Epoch ms of the accepted result, or null before the first. */
  time: number | null
  durationMs: number | null
}

/** Everything the health routes answer from; rebuilt when a result arrives, never per request. */
export interface HealthState {
  overall: OverallStatus
  flags: string[]
  probes: ProbeView[]
  /** The places probes hold in the legacy body, in the order they were declared. */
  places: HealthPlace[]
  /** The shortest probe interval: how long an answer may be cached. */
  minIntervalMs: number
  builtAt: number
  /** When the first accepted result goes stale and this state must be rebuilt. */
  staleAt: number
}

export interface StatusChange {
  probe: string
  from: CheckStatus
  to: CheckStatus
  reason: string
}

export interface RegistryOptions {
  defaults: RegistryDefaults
  onStatusChange?(change: StatusChange): void
  onOverallChange?(change: { from: OverallStatus; to: OverallStatus; flags: string[] }): void
  /** Called once, when every probe registered so far has reported (or timed out) once. */
  onFirstRound?(): void
  onSkip?(name: string): void
  now?: () => number
}

interface Entry {
  probe: Probe
  damping: DampingState
  /** The newest run. Freshness follows it, not the accepted one, so damping can hold a result. */
  latest: RunResult | null
  logged: CheckStatus
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/

/**
 * The probe registry: definitions, their damped results, and the composed state the routes
 * read. Requests only call state(), a field read plus one clock comparison.
 */
export class ProbeRegistry {
  readonly #entries = new Map<string, Entry>()
  readonly #places = new Map<string, HealthPlace>()
  readonly #opts: RegistryOptions
  readonly #now: () => number
  readonly #scheduler: Scheduler
  #state: HealthState
  // Nothing is known before the first result, whatever an empty registry composes to.
  #loggedOverall: OverallStatus = 'unknown'
  #firstRoundDone = false

  constructor(opts: RegistryOptions) {
    this.#opts = opts
    this.#now = opts.now ?? Date.now
    this.#scheduler = new Scheduler({ onResult: (name, result) => this.#onResult(name, result), onSkip: opts.onSkip, now: this.#now })
    this.#state = this.#build()
  }

  /**
   * Declares a place in the legacy body ahead of its probe (the port's, whose probe exists only
   * once the server listens), so the health schemas and bodies hold it from the start.
   */
  declare(place: HealthPlace): void {
    const known = this.#places.get(place.key)
    if (known === place) return
    if (known !== undefined) throw new Error(`health body key ${place.key} is already held by another probe`)
    this.#places.set(place.key, place)
    // A new body, nothing else: no probe changed, so no status is composed or logged again.
    this.#state = { ...this.#state, places: this.places() }
  }

  /** The declared places, in declaration order. */
  places(): HealthPlace[] {
    return [...this.#places.values()]
  }

  /** Registers a probe; after start() it runs at once. Throws on a bad or duplicate name. */
  register(def: ProbeDefinition): void {
    if (!NAME.test(def.name)) throw new TypeError(`probe name must be snake_case: ${JSON.stringify(def.name)}`)
    if (this.#entries.has(def.name)) throw new Error(`probe ${def.name} is already registered`)
    if (def.place) this.declare(def.place)
    const d = this.#opts.defaults
    const probe: Probe = {
      ...def,
      intervalMs: positive(def.intervalMs ?? d.intervalMs, 'intervalMs'),
      timeoutMs: positive(def.timeoutMs ?? d.timeoutMs, 'timeoutMs'),
      failuresToFail: positive(def.failuresToFail ?? d.failuresToFail, 'failuresToFail'),
      passesToRecover: positive(def.passesToRecover ?? d.passesToRecover, 'passesToRecover'),
    }
    this.#entries.set(def.name, { probe, damping: initialDamping(), latest: null, logged: 'unknown' })
    this.#rebuild()
    this.#scheduler.add(probe)
  }

  has(name: string): boolean {
    return this.#entries.has(name)
  }

  /** The newest raw result of a probe, undamped (for /health/live). */
  latest(name: string): RunResult | null {
    return this.#entries.get(name)?.latest ?? null
  }

  /** The current composed state; rebuilt only when a result has gone stale since the last build. */
  state(): HealthState {
    if (this.#now() >= this.#state.staleAt) this.#rebuild()
    return this.#state
  }

  /** True once every probe registered before the first round ended has reported. */
  get firstRoundDone() {
    return this.#firstRoundDone
  }

  start() {
    this.#scheduler.start()
    this.#checkFirstRound()
  }

  stop() {
    this.#scheduler.stop()
  }

  #onResult(name: string, result: RunResult) {
    const entry = this.#entries.get(name)
    if (!entry) return
    entry.latest = result
    entry.damping = damp(entry.damping, result, entry.probe)
    this.#rebuild()
    this.#checkFirstRound()
  }

  #checkFirstRound() {
    if (this.#firstRoundDone || !this.#scheduler.running) return
    for (const e of this.#entries.values()) if (e.latest === null) return
    this.#firstRoundDone = true
    this.#opts.onFirstRound?.()
  }

  #rebuild() {
    this.#state = this.#build()
    for (const view of this.#state.probes) {
      const entry = this.#entries.get(view.probe.name)!
      if (entry.logged === view.status) continue
      this.#opts.onStatusChange?.({ probe: view.probe.name, from: entry.logged, to: view.status, reason: view.reason ?? 'passing' })
      entry.logged = view.status
    }
    const { overall, flags } = this.#state
    if (overall !== this.#loggedOverall) {
      this.#opts.onOverallChange?.({ from: this.#loggedOverall, to: overall, flags })
      this.#loggedOverall = overall
    }
  }

  #build(): HealthState {
    const now = this.#now()
    let staleAt = Infinity
    let minIntervalMs = Infinity
    const probes: ProbeView[] = []
    for (const e of this.#entries.values()) {
      const { probe } = e
      minIntervalMs = Math.min(minIntervalMs, probe.intervalMs)
      const accepted = e.damping.accepted
      const lastFinishedAt = e.latest?.finishedAt ?? null
      const maxAge = STALE_INTERVALS * probe.intervalMs
      let status: CheckStatus
      let reason: string | undefined
      if (accepted === null || lastFinishedAt === null) {
        status = 'unknown'
        reason = 'no result yet'
      } else if (now - lastFinishedAt > maxAge) {
        status = 'unknown'
        reason = `stale: no result for ${now - lastFinishedAt} ms (${STALE_INTERVALS} intervals of ${probe.intervalMs} ms)`
      } else {
        status = accepted.status
        reason = status === 'pass' ? undefined : (accepted.error ?? accepted.outcome?.output ?? status)
        staleAt = Math.min(staleAt, lastFinishedAt + maxAge + 1)
      }
      const outcome = status === 'unknown' ? undefined : accepted?.outcome
      probes.push({
        probe,
        status,
        flag: flagFor(probe.name, status, outcome?.flag),
        outcome,
        reason,
        time: accepted?.finishedAt ?? null,
        durationMs: accepted?.durationMs ?? null,
      })
    }
    const { overall, flags } = compose(probes.map((p) => ({ critical: p.probe.critical, status: p.status, flag: p.flag })))
    return { overall, flags, probes, places: this.places(), minIntervalMs: Number.isFinite(minIntervalMs) ? minIntervalMs : 0, builtAt: now, staleAt }
  }
}

function positive(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`probe ${what} must be a positive integer, got ${n}`)
  return n
}
