import type { CheckStatus } from '../schemas/health.js'
import type { RunResult } from './probe.js'

/**
 * Flap damping for one probe. Results fall into two classes, ok (pass, warn) and bad (fail,
 * unknown). Within a class the newest result is reported at once; crossing from ok to bad takes
 * `failuresToFail` consecutive bad results and back `passesToRecover` consecutive ok ones, and
 * until then the last accepted result keeps being reported. The first result is taken as it is:
 * there is no earlier state to protect.
 */
export interface DampingState {
  /** The result being reported, or null before the first one. */
  accepted: RunResult | null
  badStreak: number
  okStreak: number
}

export const initialDamping = (): DampingState => ({ accepted: null, badStreak: 0, okStreak: 0 })

const isOk = (s: CheckStatus) => s === 'pass' || s === 'warn'

export function damp(state: DampingState, result: RunResult, limits: { failuresToFail: number; passesToRecover: number }): DampingState {
  const ok = isOk(result.status)
  const badStreak = ok ? 0 : state.badStreak + 1
  const okStreak = ok ? state.okStreak + 1 : 0
  const current = state.accepted
  if (current === null || isOk(current.status) === ok) return { accepted: result, badStreak, okStreak }
  const crossed = ok ? okStreak >= limits.passesToRecover : badStreak >= limits.failuresToFail
  return { accepted: crossed ? result : current, badStreak, okStreak }
}
