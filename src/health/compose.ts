import type { CheckStatus, OverallStatus } from '../schemas/health.js'

export interface ComposeInput {
  critical: boolean
  status: CheckStatus
  /** The flag a non-passing probe raises. */
  flag: string
}

export interface Composition {
  overall: OverallStatus
  /** One per probe that is not passing, in input order. */
  flags: string[]
}

/**
 * The overall status from the probes' effective states, in this order: a failing critical probe
 * → unhealthy; a critical probe without a fresh result → unknown; any other flag (a non-critical
 * probe failing or unknown, any warn, e.g. `ghost_down`) → degraded; no flags → healthy.
 */
export function compose(probes: readonly ComposeInput[]): Composition {
  let criticalFail = false
  let criticalUnknown = false
  const flags: string[] = []
  for (const p of probes) {
    if (p.status === 'pass') continue
    flags.push(p.flag)
    if (p.critical && p.status === 'fail') criticalFail = true
    else if (p.critical && p.status === 'unknown') criticalUnknown = true
  }
  const overall: OverallStatus = criticalFail ? 'unhealthy' : criticalUnknown ? 'unknown' : flags.length > 0 ? 'degraded' : 'healthy'
  return { overall, flags }
}

/** The flag of a probe in a given status: the outcome's own flag when it ran, `<name>_<status>` otherwise. */
export function flagFor(name: string, status: CheckStatus, outcomeFlag: string | undefined): string {
  return status !== 'unknown' && outcomeFlag ? outcomeFlag : `${name}_${status}`
}
