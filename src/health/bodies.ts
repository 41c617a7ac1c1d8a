import type { CheckDetail, HealthBody, IetfCheck, IetfHealthBody, OverallStatus, ProbeStatus } from '../schemas/health.js'
import type { HealthPlace } from './place.js'
import type { HealthState, ProbeView } from './registry.js'

export const SERVICE_ID = 'ghost-runner'

/** HTTP status for an overall status: traffic may still flow to a degraded service. */
export const httpStatusFor = (overall: OverallStatus) => (overall === 'healthy' || overall === 'degraded' ? 200 : 503)

/** The per-probe output a caller may see: failure text for token holders only. */
const outputOf = (view: ProbeView, detail: boolean) => (detail && view.status !== 'pass' && view.reason ? { output: view.reason } : {})

function checkOf(view: ProbeView, detail: boolean): CheckDetail {
  const { probe, outcome } = view
  return {
    status: view.status,
    critical: probe.critical,
    ...(outcome?.observedValue !== undefined ? { observedValue: outcome.observedValue } : {}),
    ...(outcome?.observedUnit !== undefined ? { observedUnit: outcome.observedUnit } : {}),
    time: view.time === null ? null : new Date(view.time).toISOString(),
    durationMs: view.durationMs,
    ...outputOf(view, detail),
  }
}

/**
 * The legacy body (`GET /health`): each place reads its probe's fresh value, else its initial
 * one. `timestamp` is left to the caller: the body is built once per state and the time is
 * spliced in per request.
 */
export function legacyBody(state: HealthState, opts: { version: string; detail: boolean; timestamp: string }): HealthBody {
  const components: Record<string, unknown> = {}
  const fields: Record<string, unknown> = {}
  const at = (place: HealthPlace) => (place.in === 'components' ? components : fields)
  for (const place of state.places) at(place)[place.key] = place.initial
  const checks: Record<string, CheckDetail> = {}
  for (const view of state.probes) {
    const { place } = view.probe
    const value = view.outcome?.legacy
    if (place !== undefined && value !== undefined) at(place)[place.key] = value
    checks[view.probe.name] = checkOf(view, opts.detail)
  }
  return {
    timestamp: opts.timestamp,
    overall_status: state.overall,
    components,
    ...fields,
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
