import { it, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify from 'fastify'
import configPlugin from '../../plugins/config.js'
import lifecycle from '../../plugins/lifecycle.js'
import probeRegistry from '../../plugins/probe-registry.js'
import systemMetrics, { sampleSystem, type SystemMetrics, type SystemSampler } from '../../probes/system-metrics.js'
import { defineConfig } from '../../src/config.js'
import { legacyBody } from '../../src/health/bodies.js'
import { receivedBytes } from '../../src/health/host-counters.js'
import { tempDir } from '../helpers/app.js'
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

  const body = legacyBody(app.probes.state(), { version: 'x', detail: false, timestamp: new Date().toISOString() })
  assert.equal(body.checks.system_metrics?.status, 'pass')
  const metrics = body.system_metrics as SystemMetrics
  assert.ok(Number.isInteger(metrics.cpu.count) && metrics.cpu.count! > 0)
  assert.ok(metrics.disk.percent! > 0 && metrics.disk.percent! <= 100)
})

it('the default sampler starts no process (a sync spawn would freeze every request)', { skip: process.platform !== 'linux' }, () => {
  const dir = tempDir('gr-spawns-')
  const tracer = join(dir, 'trace.cjs')
  // Loaded before anything else, so even a module that keeps its own reference is seen.
  writeFileSync(
    tracer,
    "const cp = require('node:child_process'); for (const fn of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) { const o = cp[fn]; cp[fn] = function (...a) { process.stderr.write('SPAWN ' + fn + ' ' + String(a[0]) + '\\n'); return o.apply(this, a) } }",
  )
  const script = `import('./probes/system-metrics.ts').then(async (m) => { for (let i = 0; i < 3; i++) console.log(JSON.stringify(await m.sampleSystem(${JSON.stringify(dir)}))) })`
  const res = spawnSync(process.execPath, ['-r', tracer, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url).pathname, encoding: 'utf8' })
  assert.equal(res.status, 0, res.stderr)
  assert.doesNotMatch(res.stderr, /SPAWN/)
  const samples = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as { cpu: { percent: number }; network: { bytes_recv: number | null } })
  assert.equal(samples.length, 3)
  for (const s of samples) {
    assert.ok(s.cpu.percent >= 0 && s.cpu.percent <= 100, JSON.stringify(s))
    assert.ok(typeof s.network.bytes_recv === 'number' && s.network.bytes_recv >= 0)
  }
})

it('counts bytes received by every interface but loopback', async () => {
  const file = join(tempDir('gr-netdev-'), 'dev')
  writeFileSync(
    file,
    'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 9999 10 0 0 0 0 0 0 9999 10 0 0 0 0 0 0\n  eth0: 1200 5 0 0 0 0 0 0 300 2 0 0 0 0 0 0\n  wlan0:34 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n',
  )
  assert.equal(await receivedBytes(file), 1234)
  assert.equal(await receivedBytes(join(tempDir(), 'missing')), null)
})
