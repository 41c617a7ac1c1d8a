import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { damp, initialDamping, type DampingState } from '../../src/health/damping.js'
import type { RunResult } from '../../src/health/probe.js'
import type { CheckStatus } from '../../src/schemas/health.js'

let t = 0
const result = (status: CheckStatus): RunResult => ({ status, startedAt: t, finishedAt: ++t, durationMs: 1 })

/** The reported status after each result in turn. */
function reported(statuses: CheckStatus[], failuresToFail: number, passesToRecover: number): CheckStatus[] {
  let state: DampingState = initialDamping()
  return statuses.map((s) => {
    state = damp(state, result(s), { failuresToFail, passesToRecover })
    return state.accepted!.status
  })
}

describe('damp', () => {
  it('1/1 reports every result as it comes', () => {
    assert.deepEqual(reported(['pass', 'fail', 'pass', 'unknown', 'warn'], 1, 1), ['pass', 'fail', 'pass', 'unknown', 'warn'])
  })

  it('holds a passing probe through N-1 failures and fails on the Nth', () => {
    assert.deepEqual(reported(['pass', 'fail', 'fail', 'fail'], 3, 1), ['pass', 'pass', 'pass', 'fail'])
  })

  it('a pass between failures restarts the count', () => {
    assert.deepEqual(reported(['pass', 'fail', 'fail', 'pass', 'fail', 'fail'], 3, 1), ['pass', 'pass', 'pass', 'pass', 'pass', 'pass'])
  })

  it('recovers only after M consecutive passes', () => {
    assert.deepEqual(reported(['fail', 'pass', 'fail', 'pass', 'pass'], 1, 2), ['fail', 'fail', 'fail', 'fail', 'pass'])
  })

  it('timeouts and errors (unknown) count as failures; the newest bad result is reported', () => {
    assert.deepEqual(reported(['pass', 'unknown', 'fail'], 2, 1), ['pass', 'pass', 'fail'])
    assert.deepEqual(reported(['pass', 'fail', 'unknown'], 2, 1), ['pass', 'pass', 'unknown'])
  })

  it('warn is on the ok side: no damping between pass and warn', () => {
    assert.deepEqual(reported(['pass', 'warn', 'pass'], 3, 3), ['pass', 'warn', 'pass'])
  })

  it('takes the first result as it is', () => {
    assert.deepEqual(reported(['fail'], 5, 5), ['fail'])
    assert.deepEqual(reported(['pass'], 5, 5), ['pass'])
  })
})
