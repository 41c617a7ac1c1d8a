import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import { auth, testApp, testConfig } from '../helpers/app.js'
import { bearer, scopedOverrides, TOKENS } from '../helpers/credentials.js'
import { openStore } from '../../src/store/open.js'
import type { Store } from '../../src/store/port.js'
import configPlugin from '../../plugins/config.js'
import problems from '../../plugins/problems.js'
import storePlugin from '../../plugins/store.js'
import authPlugin from '../../plugins/auth.js'
import metrics, { type MetricsOptions } from '../../plugins/metrics.js'
import metricsRoutes from '../../src/routes/metrics.js'

// prom-client ships no parser for the text format and none is installed, so this is a strict
// one for exposition format 0.0.4: every line must be a HELP, a TYPE or a sample of a declared
// family; names, label syntax and values are checked, histograms must be cumulative.
interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}
interface Family {
  type: string
  help: string
  samples: Sample[]
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`
// Values are what Go's strconv.ParseFloat reads (the format says so): NaN and Inf in any case.
const VALUE = '(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[nN][aA][nN]|[+-]?[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)'
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?,?\\})? (${VALUE})(?: -?\\d+)?$`)
const HELP = new RegExp(`^# HELP (${NAME}) (.*)$`)
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`)
const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] }

function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline')
  const families = new Map<string, Family>()
  const seen = new Set<string>()
  const familyOf = (sample: string) => {
    for (const [name, f] of families) {
      const suffixes = SUFFIXES[f.type] ?? ['']
      if (suffixes.some((s) => sample === name + s)) return f
    }
    return undefined
  }
  for (const [i, line] of text.split('\n').entries()) {
    const where = `line ${i + 1}: ${line}`
    if (line === '') continue
    let m: RegExpExecArray | null
    if ((m = HELP.exec(line))) {
      const f = families.get(m[1]!)
      assert.ok(!f?.help, `${where}: a second HELP`)
      families.set(m[1]!, { type: f?.type ?? '', help: m[2]!, samples: f?.samples ?? [] })
    } else if ((m = TYPE.exec(line))) {
      const f = families.get(m[1]!)
      assert.ok(f && !f.type && f.samples.length === 0, `${where}: TYPE must follow HELP, once, before the samples`)
      f.type = m[2]!
    } else if (line.startsWith('#')) {
      assert.fail(`${where}: unknown comment`)
    } else {
      m = SAMPLE.exec(line)
      assert.ok(m, `${where}: not a valid sample`)
      const labels: Record<string, string> = {}
      for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        assert.ok(!(k! in labels), `${where}: label ${k} twice`)
        labels[k!] = v!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1')
      }
      const family = familyOf(m[1]!)
      assert.ok(family?.type, `${where}: sample of an undeclared family`)
      const key = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`
      assert.ok(!seen.has(key), `${where}: duplicate series`)
      seen.add(key)
      const value = /inf/i.test(m[3]!) ? (m[3]!.startsWith('-') ? -Infinity : Infinity) : /nan/i.test(m[3]!) ? NaN : Number(m[3])
      if (family.type === 'counter') assert.ok(value >= 0, `${where}: negative counter`)
      family.samples.push({ name: m[1]!, labels, value })
    }
  }
  for (const [name, f] of families) if (f.type === 'histogram') checkHistogram(name, f)
  return families
}

function checkHistogram(name: string, f: Family) {
  const series = new Map<string, Sample[]>()
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    series.set(key, [...(series.get(key) ?? []), s])
  }
  for (const [key, samples] of series) {
    const buckets = samples.filter((s) => s.name === `${name}_bucket`)
    let last = 0
    for (const b of buckets) {
      assert.ok(b.value >= last, `${name}${key}: buckets are cumulative`)
      last = b.value
    }
    const count = samples.find((s) => s.name === `${name}_count`)
    assert.equal(buckets.at(-1)?.labels.le, '+Inf', `${name}${key}: ends with le="+Inf"`)
    assert.equal(buckets.at(-1)?.value, count?.value, `${name}${key}: +Inf bucket equals _count`)
  }
}

type App = Awaited<ReturnType<typeof testApp>>

async function scrape(app: App | ReturnType<typeof Fastify>, headers: Record<string, string> = auth) {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers })
  assert.equal(res.statusCode, 200, res.body)
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  return parseExposition(res.body)
}

/** The value of one series, or undefined when it is absent. */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}) {
  for (const f of families.values()) {
    const s = f.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
    if (s) return s.value
  }
  return undefined
}

const patch = (n: number) => ({ target: 'default', description: `patch ${n}`, operations: [{ op: 'write', path: `f${n}.txt`, contents: 'x\n' }] })
const webhook202 = { method: 'POST', route: '/webhook', status_code: '202' }

async function post(app: App, n: number) {
  const res = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: patch(n) })
  assert.equal(res.statusCode, 202, res.body)
  return res.json().id as string
}

/** A store that fails or stalls on demand, over a real one. */
async function flakyStore() {
  const store = await openStore(testConfig())
  after(() => store.close())
  const state = { mode: 'ok' as 'ok' | 'fail' | 'hang' }
  const reads = new Set(['counts', 'runners', 'list', 'get'])
  const wrapped = new Proxy(store, {
    get(target, key, receiver) {
      const real = Reflect.get(target, key, receiver) as unknown
      if (typeof real !== 'function') return real
      if (!reads.has(String(key))) return real.bind(target)
      return (...args: unknown[]) => {
        if (state.mode === 'fail') return Promise.reject(new Error('database is locked'))
        if (state.mode === 'hang') return new Promise(() => {})
        return (real as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  }) as Store
  return { store: wrapped, state }
}

/** The metrics plugin with only what it needs, for options buildApp does not pass. */
async function metricsOnly(store: Store, opts: MetricsOptions) {
  const app = Fastify()
  await app.register(configPlugin, { config: testConfig() })
  await app.register(problems)
  await app.register(storePlugin, { store })
  await app.register(authPlugin)
  await app.register(metrics, opts)
  await app.register(metricsRoutes)
  after(() => app.close())
  return app
}

describe('GET /metrics', () => {
  it('parses as the text format, and carries every family with its labels', async () => {
    const app = await testApp()
    await post(app, 1)
    const m = await scrape(app)
    const types = Object.fromEntries([...m].map(([name, f]) => [name, f.type]))
    assert.equal(types.ghost_http_request_duration_seconds, 'histogram')
    assert.equal(types.ghost_patches_accepted_total, 'counter')
    assert.equal(types.ghost_patches_finished_total, 'counter')
    assert.equal(types.ghost_queue_depth, 'gauge')
    assert.equal(types.ghost_patches_running, 'gauge')
    assert.equal(types.ghost_queue_oldest_age_seconds, 'gauge')
    assert.equal(types.ghost_runner_heartbeat_age_seconds, 'gauge')
    assert.equal(types.ghost_store_up, 'gauge')
    assert.equal(types.process_cpu_user_seconds_total, 'counter')
    assert.equal(types.nodejs_heap_size_used_bytes, 'gauge')
    assert.equal(value(m, 'ghost_store_up'), 1)
    for (const status of ['applied', 'failed', 'rejected', 'cancelled']) {
      assert.equal(value(m, 'ghost_patches_finished_total', { target: 'default', status }), 0)
    }
  })

  it('counters and gauges move with traffic; durations are labelled by route pattern, not URL', async () => {
    const app = await testApp()
    const before = await scrape(app)
    assert.equal(value(before, 'ghost_patches_accepted_total', { target: 'default' }) ?? 0, 0)
    assert.equal(value(before, 'ghost_http_request_duration_seconds_count', webhook202), undefined)

    const ids = [await post(app, 1), await post(app, 2), await post(app, 3)]
    await app.inject({ method: 'GET', url: `/patches/${ids[0]}`, headers: auth })
    await app.inject({ method: 'GET', url: '/no/such/route' })
    const afterPosts = await scrape(app)
    assert.equal(value(afterPosts, 'ghost_patches_accepted_total', { target: 'default' }), 3)
    assert.equal(value(afterPosts, 'ghost_queue_depth', { target: 'default' }), 3)
    assert.equal(value(afterPosts, 'ghost_patches_running', { target: 'default' }), 0)
    assert.ok(value(afterPosts, 'ghost_queue_oldest_age_seconds', { target: 'default' })! > 0)
    assert.equal(value(afterPosts, 'ghost_http_request_duration_seconds_count', webhook202), 3)
    assert.equal(value(afterPosts, 'ghost_http_request_duration_seconds_count', { method: 'GET', route: '/patches/:id', status_code: '200' }), 1)
    assert.equal(value(afterPosts, 'ghost_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' }), 1)
    const routes = new Set(afterPosts.get('ghost_http_request_duration_seconds')!.samples.map((s) => s.labels.route))
    assert.ok(![...routes].some((r) => r?.includes(ids[0]!)), `no raw URL among ${[...routes].join(', ')}`)

    // A cancel finishes a patch the previous scrape saw queued.
    const cancelled = await app.inject({ method: 'POST', url: `/patches/${ids[1]}/cancel`, headers: auth })
    assert.equal(cancelled.statusCode, 200, cancelled.body)
    await post(app, 4)
    const later = await scrape(app)
    assert.equal(value(later, 'ghost_patches_accepted_total', { target: 'default' }), 4)
    assert.equal(value(later, 'ghost_patches_finished_total', { target: 'default', status: 'cancelled' }), 1)
    assert.equal(value(later, 'ghost_queue_depth', { target: 'default' }), 3)
    assert.equal(value(later, 'ghost_http_request_duration_seconds_count', webhook202), 4)
  })

  it('patch totals come from the store: a second gateway (or a restart) reports the same', async () => {
    const first = await testApp()
    for (let n = 0; n < 5; n++) await post(first, n)
    const id = await post(first, 5)
    await first.inject({ method: 'POST', url: `/patches/${id}/cancel`, headers: auth })
    const second = await testApp({}, { store: first.store })
    const [a, b] = [await scrape(first), await scrape(second)]
    for (const m of [a, b]) {
      assert.equal(value(m, 'ghost_patches_accepted_total', { target: 'default' }), 6)
      assert.equal(value(m, 'ghost_patches_finished_total', { target: 'default', status: 'cancelled' }), 1)
      assert.equal(value(m, 'ghost_queue_depth', { target: 'default' }), 5)
    }
  })

  it('accepted and finished totals do not fall when retention prunes the patches they counted', async () => {
    const store = await openStore(testConfig())
    after(() => store.close())
    const app = await testApp({}, { store })
    const ids = [await post(app, 1), await post(app, 2), await post(app, 3)]
    for (const id of ids.slice(0, 2)) assert.equal((await app.inject({ method: 'POST', url: `/patches/${id}/cancel`, headers: auth })).statusCode, 200)
    assert.equal(await store.prune({ finishedBefore: Date.now() + 1000, limit: 10 }), 2)
    assert.equal(await store.get(ids[0]!), null)
    const m = await scrape(app)
    assert.equal(value(m, 'ghost_patches_accepted_total', { target: 'default' }), 3)
    assert.equal(value(m, 'ghost_patches_finished_total', { target: 'default', status: 'cancelled' }), 2)
    assert.equal(value(m, 'ghost_queue_depth', { target: 'default' }), 1)
  })

  it('reports runner heartbeat age per runner', async () => {
    const app = await testApp()
    await app.store.runnerHeartbeat({ id: 'runner-a', host: 'h', pid: 1, started_at: new Date().toISOString(), info: {} }, Date.now() - 5000)
    const age = value(await scrape(app), 'ghost_runner_heartbeat_age_seconds', { runner: 'runner-a' })
    assert.ok(age !== undefined && age >= 5 && age < 60, `age ${age}`)
  })

  it('reports each probe\'s status (1/0 per status) and last duration, and the overall status, from the registry', async () => {
    const app = await testApp()
    for (let i = 0; i < 200 && !app.probes.firstRoundDone; i++) await new Promise((r) => setTimeout(r, 25))
    assert.ok(app.probes.firstRoundDone, 'the first probe round completed')
    const m = await scrape(app)
    const state = app.probes.state()
    assert.ok(state.probes.length > 0)
    for (const view of state.probes) {
      for (const status of ['pass', 'warn', 'fail', 'unknown']) {
        assert.equal(value(m, 'ghost_probe_status', { probe: view.probe.name, status }), view.status === status ? 1 : 0, `${view.probe.name} ${status}`)
      }
      assert.equal(value(m, 'ghost_probe_duration_seconds', { probe: view.probe.name }), view.durationMs! / 1000)
    }
    assert.equal(value(m, 'ghost_health_status', { status: state.overall }), 1)
    assert.equal(m.get('ghost_health_status')!.samples.filter((s) => s.value === 1).length, 1)
  })

  it('a failing store leaves its series out and sets ghost_store_up 0; the rest is served', async () => {
    const { store, state } = await flakyStore()
    const app = await testApp({}, { store })
    await post(app, 1)
    state.mode = 'fail'
    const m = await scrape(app)
    assert.equal(value(m, 'ghost_store_up'), 0)
    assert.equal(value(m, 'ghost_queue_depth', { target: 'default' }), undefined)
    assert.equal(value(m, 'ghost_patches_accepted_total', { target: 'default' }), undefined)
    assert.equal(value(m, 'ghost_http_request_duration_seconds_count', webhook202), 1)
    assert.ok(value(m, 'process_resident_memory_bytes')! > 0)

    state.mode = 'ok'
    const back = await scrape(app)
    assert.equal(value(back, 'ghost_store_up'), 1)
    assert.equal(value(back, 'ghost_patches_accepted_total', { target: 'default' }), 1)
  })

  it('a stalled store does not stall the scrape', async () => {
    const { store, state } = await flakyStore()
    const app = await metricsOnly(store, { storeTimeoutMs: 200 })
    state.mode = 'hang'
    const started = Date.now()
    const m = await scrape(app)
    assert.equal(value(m, 'ghost_store_up'), 0)
    assert.ok(Date.now() - started < 1500, 'answered after the store timeout')
    assert.ok(value(m, 'process_resident_memory_bytes')! > 0)
  })

  it('requires the API credentials by default, and none with metricsPublic', async () => {
    const app = await testApp()
    for (const headers of [{}, { authorization: 'Bearer not-the-token-0123456789' }]) {
      const denied = await app.inject({ method: 'GET', url: '/metrics', headers })
      assert.equal(denied.statusCode, 401)
      assert.equal(denied.json().code, 'UNAUTHORIZED')
    }
    assert.equal(value(await scrape(app, auth), 'ghost_store_up'), 1)

    const open = await testApp({ metricsPublic: true })
    assert.equal(value(await scrape(open, {}), 'ghost_store_up'), 1)
  })

  it('needs the metrics right: a token with other rights gets 403 FORBIDDEN; with metricsPublic anyone scrapes', async () => {
    const app = await testApp(scopedOverrides())
    for (const token of [TOKENS.scraper, TOKENS.operator]) assert.equal(value(await scrape(app, bearer(token)), 'ghost_store_up'), 1)
    for (const token of [TOKENS.monitor, TOKENS.docsAgent, TOKENS.docsDispatcher]) {
      const denied = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(token) })
      assert.equal(denied.statusCode, 403, denied.body)
      assert.equal(denied.json().code, 'FORBIDDEN')
    }
    const open = await testApp({ ...scopedOverrides(), metricsPublic: true })
    assert.equal(value(await scrape(open, bearer(TOKENS.docsAgent)), 'ghost_store_up'), 1)
  })

  it('requireAuth overrides the setting', async () => {
    const { store } = await flakyStore()
    const app = await metricsOnly(store, { requireAuth: true })
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401)
    assert.equal(value(await scrape(app, auth), 'ghost_store_up'), 1)
  })
})
