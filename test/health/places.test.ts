import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Type } from '@sinclair/typebox'
import { legacyBody } from '../../src/health/bodies.js'
import { bodyPlace, componentPlace } from '../../src/health/place.js'
import { ProbeRegistry } from '../../src/health/registry.js'
import { healthBodies } from '../../src/schemas/health.js'
import { until } from './app.js'

const defaults = { intervalMs: 60_000, timeoutMs: 1_000, failuresToFail: 1, passesToRecover: 1 }

function registry() {
  const r = new ProbeRegistry({ defaults })
  after(() => r.stop())
  return r
}

const body = (r: ProbeRegistry) => legacyBody(r.state(), { version: 'x', detail: true, timestamp: new Date(0).toISOString() })

describe('a probe owns its place in /health', () => {
  it('shows its initial value until it reports, then its own; the schema names it where it declared', async () => {
    const r = registry()
    const warm = componentPlace('cache_warm', Type.Boolean(), false)
    const stats = bodyPlace('queue_stats', Type.Object({ depth: Type.Integer() }), { depth: 0 })
    r.register({ name: 'cache_warm', place: warm, critical: false, componentType: 'component', check: async () => ({ status: 'pass', legacy: true }) })
    r.register({ name: 'queue_stats', place: stats, critical: false, componentType: 'component', check: async () => ({ status: 'pass', legacy: { depth: 7 } }) })
    assert.deepEqual(body(r).components, { cache_warm: false })
    assert.deepEqual(body(r).queue_stats, { depth: 0 })

    r.start()
    await until('both reported', () => r.state().probes.every((p) => p.status === 'pass'))
    assert.deepEqual(body(r).components, { cache_warm: true })
    assert.deepEqual(body(r).queue_stats, { depth: 7 })

    const { report } = healthBodies(r.places())
    assert.deepEqual(Object.keys(report.properties.components.properties), ['cache_warm'])
    assert.ok('queue_stats' in report.properties, 'a body place is a field of the body')
  })

  it('a value its place does not take makes the probe unknown, and the place keeps its initial value', async () => {
    const r = registry()
    r.register({ name: 'cache_warm', place: componentPlace('cache_warm', Type.Boolean(), false), critical: false, componentType: 'component', check: async () => ({ status: 'pass', legacy: 'yes' }) })
    r.register({ name: 'no_place', critical: false, componentType: 'component', check: async () => ({ status: 'pass', legacy: true }) })
    r.start()
    await until('both ran', () => r.state().probes.every((p) => p.time !== null || p.reason !== 'no result yet'))
    const checks = body(r).checks
    assert.equal(checks.cache_warm?.status, 'unknown')
    assert.match(checks.cache_warm?.output ?? '', /cache_warm does not take/)
    assert.equal(checks.no_place?.status, 'unknown')
    assert.deepEqual(body(r).components, { cache_warm: false })
  })

  it('a key is held by one probe only; a place declared ahead (the port) shows before its probe exists', () => {
    const r = registry()
    const port = componentPlace('port_1_bound', Type.Boolean(), false, '`port_<port>_bound`')
    r.declare(port)
    assert.deepEqual(body(r).components, { port_1_bound: false })
    assert.equal((healthBodies(r.places()).report.properties.components.additionalProperties as { description?: string }).description, 'Other probes by name, among them `port_<port>_bound`')
    r.register({ name: 'port_1_bound', place: port, critical: true, componentType: 'system', check: async () => ({ status: 'pass', legacy: true }) })
    assert.throws(() => r.register({ name: 'other', place: componentPlace('port_1_bound', Type.Boolean(), false), critical: false, componentType: 'system', check: async () => ({ status: 'pass' }) }), /already held/)
  })

  it('declaring a place composes and logs nothing: the overall status never reads healthy before a probe has run', () => {
    const changes: string[] = []
    const r = new ProbeRegistry({ defaults, onOverallChange: (c) => changes.push(`${c.from}→${c.to}`) })
    after(() => r.stop())
    r.declare(componentPlace('port_1_bound', Type.Boolean(), false))
    r.register({ name: 'cache_warm', place: componentPlace('cache_warm', Type.Boolean(), false), critical: true, componentType: 'component', check: async () => ({ status: 'pass' }) })
    assert.deepEqual(changes, [])
    assert.equal(r.state().overall, 'unknown')
  })
})
