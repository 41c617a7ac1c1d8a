import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import si from 'systeminformation'
import type { ProbeOutcome } from '../../src/schemas/health.js'
import { bearer, healthApp, started, until, type App } from './app.js'

const SECRET_OUTPUT = 'ECONNREFUSED /var/lib/secret-path password=hunter2'

const failing = (app: App, name = 'test_critical', critical = true) =>
  app.probes.register({ name, critical, componentType: 'component', check: async (): Promise<ProbeOutcome> => ({ status: 'fail', output: SECRET_OUTPUT, observedValue: 1 }) })

async function get(app: App, url: string, headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url, headers })
}

describe('GET /health', () => {
  it('healthy with a runner heartbeat: 200, the legacy body plus flags and checks', async () => {
    const app = await healthApp({ runner: true })
    await started(app)
    const res = await get(app, '/health')
    assert.equal(res.statusCode, 200, res.body)
    assert.match(res.headers['content-type'] as string, /^application\/json/)
    const body = res.json()
    assert.equal(body.overall_status, 'healthy', JSON.stringify(body.flags))
    assert.deepEqual(body.flags, [])
    assert.deepEqual(body.components, { http_responsive: true, fs_writable: true, ghost_runner: 'up', webhook_endpoint: 'operational', port_0_bound: false })
    assert.equal(typeof body.system_metrics.cpu.count, 'number')
    assert.equal(typeof body.system_metrics.cpu.percent, 'number')
    assert.equal(typeof body.system_metrics.memory.percent, 'number')
    assert.equal(typeof body.system_metrics.disk.percent, 'number')
    assert.equal(typeof body.system_metrics.network.bytes_recv, 'number')
    assert.equal(body.version, '0.1.0')
    assert.ok(Math.abs(Date.parse(body.timestamp) - Date.now()) < 5000)
    for (const name of ['http_responsive', 'memory', 'fs_writable', 'webhook_endpoint', 'ghost_runner', 'system_metrics', 'disk_space']) {
      const check = body.checks[name]
      assert.equal(check?.status, 'pass', name)
      assert.equal(typeof check.time, 'string', name)
      assert.equal(typeof check.durationMs, 'number', name)
      assert.ok('observedValue' in check, name)
    }
    assert.equal(body.checks.port_0_bound, undefined, 'no port probe before listen')
    // The timestamp is per request even though the rest of the body is cached.
    await sleep(5)
    assert.notEqual((await get(app, '/health')).json().timestamp, body.timestamp)
  })

  it('the runner down (ghost_down) alone: degraded, 200', async () => {
    const app = await healthApp()
    await started(app)
    const res = await get(app, '/health')
    assert.equal(res.statusCode, 200)
    const body = res.json()
    assert.equal(body.overall_status, 'degraded')
    assert.deepEqual(body.flags, ['ghost_down'])
    assert.equal(body.components.ghost_runner, 'down')
    assert.equal((await get(app, '/health/ready')).statusCode, 200)
  })

  it('a failing critical probe: /health and /health/ready 503 with Retry-After', async () => {
    const app = await healthApp({ runner: true, before: (a) => failing(a) })
    await started(app)
    const health = await get(app, '/health')
    assert.equal(health.statusCode, 503)
    assert.equal(health.headers['retry-after'], '2')
    assert.equal(health.json().overall_status, 'unhealthy')
    assert.deepEqual(health.json().flags, ['test_critical_fail'])
    const ready = await get(app, '/health/ready')
    assert.equal(ready.statusCode, 503)
    assert.equal(ready.headers['retry-after'], '2')
    assert.deepEqual(ready.json(), { status: 'not_ready', reason: 'unhealthy', overall_status: 'unhealthy' })
  })

  it('a failing non-critical probe only degrades', async () => {
    const app = await healthApp({ runner: true, before: (a) => failing(a, 'test_optional', false) })
    await started(app)
    const res = await get(app, '/health')
    assert.equal(res.statusCode, 200)
    assert.equal(res.json().overall_status, 'degraded')
  })

  it('anonymous callers never see failure output; a token holder does', async () => {
    const app = await healthApp({ before: (a) => failing(a) })
    await started(app)
    for (const accept of ['application/json', 'application/health+json']) {
      const anon = await get(app, '/health', { accept })
      assert.equal(anon.statusCode, 503)
      assert.ok(!anon.body.includes('hunter2') && !anon.body.includes('/var/lib') && !anon.body.includes('"output"'), `${accept}: ${anon.body}`)
      const wrong = await get(app, '/health', { accept, authorization: 'Bearer not-the-token-at-all' })
      assert.ok(!wrong.body.includes('"output"'), `${accept} with a wrong token`)
      const holder = await get(app, '/health', { accept, ...bearer })
      assert.ok(holder.body.includes(SECRET_OUTPUT), `${accept}: token holder sees output`)
      assert.ok(holder.body.includes('no runner has ever sent a heartbeat'))
    }
    // The cached anonymous answer is not replaced by the detailed one.
    assert.ok(!(await get(app, '/health')).body.includes('"output"'))
  })

  it('exposeDetail shows output to anonymous callers', async () => {
    const app = await healthApp({ health: { exposeDetail: true }, before: (a) => failing(a) })
    await started(app)
    assert.equal((await get(app, '/health')).json().checks.test_critical.output, SECRET_OUTPUT)
  })

  it('Accept: application/health+json answers draft-inadarei-api-health-check with Cache-Control', async () => {
    const app = await healthApp({ before: (a) => failing(a, 'test_optional', false) })
    await started(app)
    const res = await get(app, '/health', { accept: 'application/health+json' })
    assert.equal(res.statusCode, 200)
    assert.match(res.headers['content-type'] as string, /^application\/health\+json/)
    const maxAge = Number(/^max-age=(\d+)$/.exec(res.headers['cache-control'] as string)?.[1])
    assert.ok(maxAge >= 0 && maxAge * 1000 <= app.config.health.intervalMs, `cache-control ${res.headers['cache-control']}`)
    const body = res.json()
    assert.equal(body.status, 'warn')
    assert.equal(body.serviceId, 'ghost-runner')
    assert.equal(body.version, '0.1.0')
    for (const [key, entries] of Object.entries<Record<string, unknown>[]>(body.checks)) {
      assert.match(key, /^[a-z0-9_]+(:[A-Za-z]+)?$/)
      assert.ok(Array.isArray(entries) && entries.length === 1, key)
      const e = entries[0]!
      assert.ok(['pass', 'warn', 'fail'].includes(e.status as string), key)
      assert.equal(typeof e.componentType, 'string', key)
      assert.equal(typeof e.time, 'string', key)
    }
    assert.equal(body.checks['fs_writable:responseTime'][0].observedUnit, 'ms')
    assert.equal(body.checks['ghost_runner:heartbeatAge'][0].status, 'fail')
    assert.equal(body.checks['test_optional'][0].status, 'fail')
    assert.equal(body.checks['webhook_endpoint:responseTime'][0].affectedEndpoints, undefined, 'only when failing')
    // A token holder's detailed answer may only be cached privately.
    assert.match((await get(app, '/health', { accept: 'application/health+json', ...bearer })).headers['cache-control'] as string, /^private, max-age=/)
  })

  it('health+json: unhealthy is status fail with 503 and Retry-After', async () => {
    const app = await healthApp({ runner: true, before: (a) => failing(a) })
    await started(app)
    const res = await get(app, '/health', { accept: 'application/health+json' })
    assert.equal(res.statusCode, 503)
    assert.ok(res.headers['retry-after'])
    assert.equal(res.json().status, 'fail')
  })

  it('keeps answering while a probe hangs: the response returns before the hang ends, then the probe reads unknown', async () => {
    let hangEndsAt = Infinity
    let hanging = false
    const app = await healthApp({
      runner: true,
      before: (a) =>
        a.probes.register({
          name: 'test_hangs',
          critical: true,
          componentType: 'component',
          intervalMs: 100,
          timeoutMs: 300,
          async check() {
            if (hanging) {
              // Ignores its signal, as a wedged driver call would.
              hangEndsAt = Date.now() + 3000
              await sleep(3000)
            }
            return { status: 'pass' }
          },
        }),
    })
    await started(app)
    assert.equal((await get(app, '/health')).json().checks.test_hangs.status, 'pass')
    hanging = true
    await until('the hang to begin', () => hangEndsAt !== Infinity)
    const res = await get(app, '/health')
    const answeredAt = Date.now()
    assert.ok(answeredAt < hangEndsAt, 'answered while the check was still hanging')
    assert.ok(res.statusCode === 200 || res.statusCode === 503)
    await until('the timeout', async () => (await get(app, '/health')).json().checks.test_hangs.status === 'unknown', 1000)
    assert.ok(Date.now() < hangEndsAt, 'unknown within the timeout, long before the hang ends')
    const after = await get(app, '/health')
    assert.equal(after.statusCode, 503)
    assert.equal(after.json().overall_status, 'unknown')
    assert.ok(after.json().flags.includes('test_hangs_unknown'))
    assert.equal(after.json().checks.fs_writable.status, 'pass', 'other probes unaffected')
  })

  it('a throwing probe reads unknown and the others are unaffected', async () => {
    const app = await healthApp({
      runner: true,
      before: (a) =>
        a.probes.register({ name: 'test_throws', critical: false, componentType: 'component', check: async () => Promise.reject(new Error('kaput')) }),
    })
    await started(app)
    const body = (await get(app, '/health')).json()
    assert.equal(body.checks.test_throws.status, 'unknown')
    assert.equal(body.overall_status, 'degraded')
    assert.deepEqual(body.flags, ['test_throws_unknown'])
    assert.equal(body.checks.webhook_endpoint.status, 'pass')
  })

  it('never calls systeminformation on the request path', async () => {
    const calls = { n: 0 }
    const mutable = si as unknown as Record<string, (...args: unknown[]) => unknown>
    const originals = new Map<string, (...args: unknown[]) => unknown>()
    for (const fn of ['currentLoad', 'mem', 'networkStats', 'fsSize', 'cpu']) {
      const original = mutable[fn]!
      originals.set(fn, original)
      mutable[fn] = (...args: unknown[]) => {
        calls.n++
        return original(...args)
      }
    }
    try {
      // A long interval: after the first round, nothing samples in the background during the test.
      const app = await healthApp({ runner: true, health: { intervalMs: 60_000 } })
      await started(app)
      const before = calls.n
      assert.ok(before > 0, 'the probe samples through systeminformation')
      for (let i = 0; i < 50; i++) {
        const res = await get(app, i % 2 ? '/health' : '/health/ready', i % 3 ? {} : { accept: 'application/health+json' })
        assert.ok(res.statusCode < 500)
      }
      assert.equal(calls.n, before, 'no sampling per request')
    } finally {
      for (const [fn, original] of originals) mutable[fn] = original
    }
  })

  it('with a listening server, port_<port>_bound probes the real socket and reads true', async () => {
    const app = await healthApp({ runner: true })
    await started(app)
    await app.listen({ host: '127.0.0.1', port: 0 })
    await until('the port probe', async () => (await get(app, '/health')).json().checks.port_0_bound?.status === 'pass')
    const body = (await get(app, '/health')).json()
    assert.equal(body.components.port_0_bound, true)
    assert.equal(body.overall_status, 'healthy')
    assert.equal(body.checks.port_0_bound.critical, true)
  })

  it('logs each status change once through app.log', async () => {
    const logs: Record<string, unknown>[] = []
    let fail = false
    const app = await healthApp({
      runner: true,
      logs,
      before: (a) =>
        a.probes.register({
          name: 'test_toggle',
          critical: false,
          componentType: 'component',
          // Long enough that a busy test machine never lets the result go stale in between.
          intervalMs: 200,
          check: async () => (fail ? { status: 'fail', output: 'switched off' } : { status: 'pass' }),
        }),
    })
    await started(app)
    await sleep(500)
    fail = true
    await until('the failure', async () => (await get(app, '/health')).json().checks.test_toggle.status === 'fail')
    await sleep(700) // several more failing runs: still one change
    const changes = logs.filter((l) => l.probe === 'test_toggle' && l.msg === 'probe status changed')
    assert.deepEqual(
      changes.map((l) => [l.from, l.to, l.reason]),
      [
        ['unknown', 'pass', 'passing'],
        ['pass', 'fail', 'switched off'],
      ],
    )
  })
})

/** Blocks the event loop for 400 ms, then polls /health/live (about a second at most) until it is no longer 200. */
async function blockThenLive(app: App) {
  const until = Date.now() + 400
  while (Date.now() < until); // block the event loop
  let res = await get(app, '/health/live')
  for (let i = 0; i < 50 && res.statusCode === 200; i++) {
    await sleep(20)
    res = await get(app, '/health/live')
  }
  return res
}

describe('GET /health/startup, /health/ready, /health/live', () => {
  it('startup and ready are 503 until the first probe round completes, then 200', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const app = await healthApp({
      runner: true,
      before: (a) =>
        a.probes.register({ name: 'test_slow_start', critical: false, componentType: 'component', timeoutMs: 10_000, check: async () => (await gate, { status: 'pass' }) }),
    })
    await sleep(100) // every other probe has reported by now
    const startup = await get(app, '/health/startup')
    assert.equal(startup.statusCode, 503)
    assert.ok(startup.headers['retry-after'])
    assert.deepEqual(startup.json(), { status: 'starting' })
    const ready = await get(app, '/health/ready')
    assert.equal(ready.statusCode, 503)
    assert.equal(ready.json().reason, 'starting')
    assert.ok(ready.headers['retry-after'])
    release()
    await started(app)
    assert.equal((await get(app, '/health/startup')).statusCode, 200)
    assert.deepEqual((await get(app, '/health/startup')).json(), { status: 'started' })
    assert.deepEqual((await get(app, '/health/ready')).json(), { status: 'ready', overall_status: 'healthy' })
  })

  it('draining: ready turns 503 while live stays 200', async () => {
    const app = await healthApp({ runner: true })
    await started(app)
    assert.equal((await get(app, '/health/ready')).statusCode, 200)
    app.lifecycle.beginDrain()
    const ready = await get(app, '/health/ready')
    assert.equal(ready.statusCode, 503)
    assert.ok(ready.headers['retry-after'])
    assert.equal(ready.json().reason, 'draining')
    const live = await get(app, '/health/live')
    assert.equal(live.statusCode, 200)
    assert.equal(live.json().status, 'pass')
    assert.equal(typeof live.json().event_loop_delay_ms, 'number')
  })

  it('a slow start does not read as a blocked loop: live is 200 from the first probe round', async () => {
    const app = await healthApp({
      runner: true,
      health: { eventLoopWarnMs: 500, eventLoopFailMs: 1000 },
      // A plugin loaded after the probes, holding the loop past eventLoopFailMs while the app starts.
      before: (a) =>
        void a.register(async () => {
          const until = Date.now() + 1500
          while (Date.now() < until);
        }),
    })
    await started(app)
    const live = await get(app, '/health/live')
    assert.equal(live.statusCode, 200, live.body)
    assert.ok(live.json().event_loop_delay_ms < 1000, live.body)
  })

  it('a block the moment the app is ready is seen: live turns 503', async () => {
    // Before any tick of the sampler, right after ready: the window a sampler that forgets its
    // last tick (perf_hooks' histogram after reset()) does not see.
    const app = await healthApp({ runner: true, health: { intervalMs: 100, eventLoopWarnMs: 50, eventLoopFailMs: 150 } })
    const res = await blockThenLive(app)
    assert.equal(res.statusCode, 503, res.body)
    assert.ok(res.json().event_loop_delay_ms >= 150, res.body)
  })

  it('live turns 503 when the last event-loop measurement reached eventLoopFailMs', async () => {
    const app = await healthApp({ runner: true, health: { intervalMs: 100, eventLoopWarnMs: 50, eventLoopFailMs: 150 } })
    await started(app)
    // Healthy first: on shared cores a neighbour's burst can hold a measurement over 150 ms for a
    // moment, so wait (a few seconds at most) for a clear one before blocking on purpose.
    for (let i = 0; (await get(app, '/health/live')).statusCode !== 200; i++) {
      assert.ok(i < 50, 'live never answered 200 before the block')
      await new Promise((r) => setTimeout(r, 100))
    }
    const res = await blockThenLive(app)
    assert.equal(res.statusCode, 503)
    assert.equal(res.json().status, 'fail')
    assert.ok(res.json().event_loop_delay_ms >= 150)
    assert.ok(res.headers['retry-after'])
  })
})
