import type { CheckDetail, HealthBody, IetfCheck, IetfHealthBody, OverallStatus, ProbeStatus, SystemMetrics } from '../schemas/health.js'
import { portProbeName } from '../schemas/health.js'
import type { HealthState, ProbeView } from './registry.js'

export const SERVICE_ID = 'ghost-runner'

/** HTTP status for an overall status: traffic may still flow to a degraded service. */
export const httpStatusFor = (overall: OverallStatus) => (overall === 'healthy' || overall === 'degraded' ? 200 : 503)

const NO_METRICS: SystemMetrics = { cpu: { count: null, percent: null }, memory: { percent: null }, disk: { percent: null }, network: { bytes_recv: null } }

/** What each legacy component reads while its probe has no fresh result (or, for the port, before listen). */
function legacyDefaults(port: number): HealthBody['components'] {
  return { http_responsive: false, fs_writable: false, ghost_runner: 'down', webhook_endpoint: 'down', [portProbeName(port)]: false }
}

const isMetrics = (v: unknown): v is SystemMetrics => typeof v === 'object' && v !== null

/** The per-probe output a caller may see: failure text for token holders only. */
const outputOf = (view: ProbeView, detail: boolean) => (detail && view.status !== 'pass' && view.reason ? { output: view.reason } : {})

/**
 * The legacy body (`GET /health`). `timestamp` is left to the caller: the body is built once per
 * state and the time is spliced in per request.
 */
export function legacyBody(state: HealthState, opts: { port: number; version: string; detail: boolean; timestamp: string }): HealthBody {
  // Any probe may contribute a component; the route's schema holds the legacy ones to their types.
  const components: Record<string, boolean | string> = legacyDefaults(opts.port)
  let systemMetrics = NO_METRICS
  const checks: Record<string, CheckDetail> = {}
  for (const view of state.probes) {
    const { probe, outcome } = view
    const value = outcome?.component
    if (value !== undefined) {
      if (isMetrics(value)) systemMetrics = value
      else components[probe.name] = value
    }
    checks[probe.name] = {
      status: view.status,
      critical: probe.critical,
      ...(outcome?.observedValue !== undefined ? { observedValue: outcome.observedValue } : {}),
      ...(outcome?.observedUnit !== undefined ? { observedUnit: outcome.observedUnit } : {}),
      time: view.time === null ? null : new Date(view.time).toISOString(),
      durationMs: view.durationMs,
      ...outputOf(view, opts.detail),
    }
  }
  return {
    timestamp: opts.timestamp,
    overall_status: state.overall,
    components: components as HealthBody['components'],
    system_metrics: systemMetrics,
    version: opts.version,
    flags: state.flags,
    checks,
  }
}

const IETF_OVERALL: Record<OverallStatus, ProbeStatus> = { healthy: 'pass', degraded: 'warn', unhealthy: 'fail', unknown: 'fail' }

/** draft-inadarei-api-health-check: a probe without a fresh result fails if it is critical, warns if not. */
function ietfStatus(view: ProbeView): ProbeStatus {
  if (view.status === 'unknown') return view.probe.critical ? 'fail' : 'warn'
  return view.status
}

export function ietfBody(state: HealthState, opts: { version: string; detail: boolean }): IetfHealthBody {
  const checks: Record<string, IetfCheck[]> = {}
  for (const view of state.probes) {
    const { probe, outcome } = view
    const status = ietfStatus(view)
    const key = probe.measurement ? `${probe.name}:${probe.measurement}` : probe.name
    checks[key] = [
      {
        ...(probe.componentId !== undefined ? { componentId: probe.componentId } : {}),
        componentType: probe.componentType,
        ...(outcome?.observedValue !== undefined ? { observedValue: outcome.observedValue } : {}),
        ...(outcome?.observedUnit !== undefined ? { observedUnit: outcome.observedUnit } : {}),
        status,
        ...(view.time === null ? {} : { time: new Date(view.time).toISOString() }),
        ...(status !== 'pass' && probe.affectedEndpoints ? { affectedEndpoints: probe.affectedEndpoints } : {}),
        ...outputOf(view, opts.detail),
      },
    ]
  }
  return {
    status: IETF_OVERALL[state.overall],
    version: opts.version,
    serviceId: SERVICE_ID,
    description: 'Ghost Runner patch-dispatch service',
    checks,
  }
}
