import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { compose, flagFor, type ComposeInput } from '../../src/health/compose.js'
import type { CheckStatus } from '../../src/schemas/health.js'

const probe = (name: string, critical: boolean, status: CheckStatus, flag?: string): ComposeInput => ({ critical, status, flag: flagFor(name, status, flag) })

describe('compose', () => {
  it('no probes, or every probe passing: healthy, no flags', () => {
    assert.deepEqual(compose([]), { overall: 'healthy', flags: [] })
    assert.deepEqual(compose([probe('a', true, 'pass'), probe('b', false, 'pass')]), { overall: 'healthy', flags: [] })
  })

  it('a failing critical probe: unhealthy', () => {
    assert.equal(compose([probe('a', true, 'fail'), probe('b', false, 'pass')]).overall, 'unhealthy')
  })

  it('a critical probe without a fresh result: unknown', () => {
    assert.equal(compose([probe('a', true, 'unknown'), probe('b', true, 'pass')]).overall, 'unknown')
  })

  it('unhealthy outranks unknown, whatever the order', () => {
    assert.equal(compose([probe('a', true, 'unknown'), probe('b', true, 'fail')]).overall, 'unhealthy')
    assert.equal(compose([probe('b', true, 'fail'), probe('a', true, 'unknown')]).overall, 'unhealthy')
  })

  it('unknown outranks degraded', () => {
    assert.equal(compose([probe('a', false, 'fail'), probe('b', true, 'unknown')]).overall, 'unknown')
  })

  it('a failing non-critical probe: degraded', () => {
    assert.deepEqual(compose([probe('a', true, 'pass'), probe('x', false, 'fail')]), { overall: 'degraded', flags: ['x_fail'] })
  })

  it('a non-critical probe without a fresh result: degraded', () => {
    assert.deepEqual(compose([probe('x', false, 'unknown')]), { overall: 'degraded', flags: ['x_unknown'] })
  })

  it('a warn threshold, critical or not: degraded', () => {
    assert.equal(compose([probe('a', true, 'warn')]).overall, 'degraded')
    assert.equal(compose([probe('x', false, 'warn')]).overall, 'degraded')
  })

  it('the runner down alone (non-critical ghost_runner, flag ghost_down): degraded', () => {
    const result = compose([probe('http_responsive', true, 'pass'), probe('ghost_runner', false, 'fail', 'ghost_down')])
    assert.deepEqual(result, { overall: 'degraded', flags: ['ghost_down'] })
  })

  it('lists one flag per probe not passing, in order', () => {
    const result = compose([probe('a', true, 'fail'), probe('b', false, 'pass'), probe('disk_space', true, 'warn', 'disk_low'), probe('c', false, 'unknown')])
    assert.deepEqual(result.flags, ['a_fail', 'disk_low', 'c_unknown'])
  })
})

describe('flagFor', () => {
  it("uses the outcome's flag while the probe ran, its own name once it has no fresh result", () => {
    assert.equal(flagFor('ghost_runner', 'fail', 'ghost_down'), 'ghost_down')
    assert.equal(flagFor('ghost_runner', 'unknown', 'ghost_down'), 'ghost_runner_unknown')
    assert.equal(flagFor('disk_space', 'warn', undefined), 'disk_space_warn')
  })
})
