import type { CheckStatus, ProbeOutcome } from '../schemas/health.js'
import type { HealthPlace } from './place.js'

/** What a probe plugin hands to `app.probes.register()`. */
export interface ProbeDefinition {
  /** Unique, snake_case; the key in `checks` (and in health+json). */
  name: string
  /** Where the outcome's `legacy` value shows in the legacy body, if anywhere. */
  place?: HealthPlace
  /** A failing critical probe makes the service unhealthy; a non-critical one only degrades it. */
  critical: boolean
  /** Default: config.health.intervalMs. */
  intervalMs?: number
  /** Default: config.health.timeoutMs. The signal passed to check() aborts when it elapses. */
  timeoutMs?: number
  /** draft-inadarei-api-health-check componentType: `system`, `datastore`, `component`. */
  componentType: string
  /** health+json componentId; shown to anyone, so never a path, address or secret. */
  componentId?: string
  /** The measurement half of the health+json key `name:measurement`, e.g. `responseTime`. */
  measurement?: string
  /** Endpoints that stop working while this probe is not passing (health+json). */
  affectedEndpoints?: string[]
  /** Flap damping overrides; defaults config.health.failuresToFail / passesToRecover. */
  failuresToFail?: number
  passesToRecover?: number
  /** Runs in the background only; never on a request. Must honour `signal` where it can. */
  check(signal: AbortSignal): Promise<ProbeOutcome>
}

/** A definition with every default filled in. */
type Optional = 'measurement' | 'affectedEndpoints' | 'componentId' | 'place'
export type Probe = Required<Omit<ProbeDefinition, Optional>> & Pick<ProbeDefinition, Optional>

/** One completed run (or timeout) of a probe, as the scheduler saw it. */
export interface RunResult {
  status: CheckStatus
  /** Present when the check resolved with a valid outcome. */
  outcome?: ProbeOutcome
  /** Why the run is `unknown`: a timeout, a throw, an invalid outcome. Internal: logs and token holders only. */
  error?: string
  startedAt: number
  finishedAt: number
  durationMs: number
}
