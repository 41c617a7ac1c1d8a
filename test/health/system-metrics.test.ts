import { it, after } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import configPlugin from '../../plugins/config.js'
import lifecycle from '../../plugins/lifecycle.js'
import probeRegistry from '../../plugins/probe-registry.js'
import systemMetrics, { sampleSystem, type SystemSampler } from '../../probes/system-metrics.js'
import { defineConfig } from '../../src/config.js'
import { legacyBody } from '../../src/health/bodies.js'
import { tempDir } from '../helper.js'
import { until } from './app.js'

it('samples through the injected sampler on the probe interval only; reading the state never samples', async () => {
  const dataDir = tempDir('gr-metrics-')
  let calls = 0
  const sampler: SystemSampler = async (dir) => {
    calls++
    return sampleSystem(dir)
  }
  const app = Fastify()
  after(() => app.close())
  const config = defineConfig({ dataDir })
  await app.register(configPlugin, { config: { ...config, health: { ...config.health, intervalMs: 60_000 } } })
  await app.register(lifecycle)
  await app.register(probeRegistry)
  await app.register(systemMetrics, { sampler })
  await app.ready()
  await until('the first round', () => app.lifecycle.started)
  assert.equal(calls, 1)
  for (let i = 0; i < 100; i++) app.probes.state()
  assert.equal(calls, 1)

  const body = legacyBody(app.probes.state(), { port: 5555, version: 'x', detail: false, timestamp: new Date().toISOString() })
  assert.equal(body.checks.system_metrics?.status, 'pass')
  assert.ok(Number.isInteger(body.system_metrics.cpu.count) && body.system_metrics.cpu.count! > 0)
  assert.ok(body.system_metrics.disk.percent! > 0 && body.system_metrics.disk.percent! <= 100)
})
