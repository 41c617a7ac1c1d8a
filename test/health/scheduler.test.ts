import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { ProbeRegistry, type RegistryOptions, type StatusChange } from '../../src/health/registry.js'
import type { ProbeDefinition } from '../../src/health/probe.js'
import type { CheckStatus, ProbeOutcome } from '../../src/schemas/health.js'

// Stale after 300 ms: far beyond any scheduling jitter, except where staleness is the point.
const DEFAULTS = { intervalMs: 100, timeoutMs: 200, failuresToFail: 1, passesToRecover: 1 }

function registry(opts: Partial<RegistryOptions> = {}) {
  const r = new ProbeRegistry({ defaults: DEFAULTS, ...opts })
  after(() => r.stop())
  return r
}

const probe = (name: string, check: ProbeDefinition['check'], extra: Partial<ProbeDefinition> = {}): ProbeDefinition => ({
  name,
  critical: true,
  componentType: 'component',
  check,
  ...extra,
})

const PASS: ProbeOutcome = { status: 'pass' }
const view = (r: ProbeRegistry, name: string) => r.state().probes.find((p) => p.probe.name === name)!

async function until(what: string, cond: () => boolean, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

describe('scheduler and registry', () => {
  it('a hanging probe is unknown once its timeout elapses; its signal is aborted; others keep reporting', async () => {
    const r = registry()
    let aborted = false
    let otherRuns = 0
    r.register(
      probe('hangs', (signal) => {
        signal.addEventListener('abort', () => (aborted = true))
        return new Promise(() => {})
      }, { timeoutMs: 100 }),
    )
    r.register(probe('fine', async () => (otherRuns++, PASS)))
    const started = Date.now()
    r.start()
    await until('the timeout', () => view(r, 'hangs').time !== null)
    const elapsed = Date.now() - started
    assert.ok(elapsed >= 95, `reported after ${elapsed} ms, before its 100 ms timeout`)
    assert.equal(view(r, 'hangs').status, 'unknown')
    assert.match(view(r, 'hangs').reason!, /timed out after 100 ms/)
    assert.ok(aborted, 'the check signal was aborted')
    const runs = otherRuns
    await sleep(250)
    assert.ok(otherRuns > runs, 'the other probe kept running on its interval')
    // Waited for, not read once: a stall of this process longer than 'fine's 300 ms staleness
    // (a loaded CI machine had one) shows it stale until its next run reports.
    await until('the other probe to pass', () => view(r, 'fine').status === 'pass')
    assert.equal(r.state().overall, 'unknown')
  })

  it('a throwing probe (async or sync) is unknown and the others are unaffected', async () => {
    const r = registry()
    r.register(probe('rejects', async () => Promise.reject(new Error('boom'))))
    r.register(probe('throws', () => {
      throw new Error('sync boom')
    }))
    r.register(probe('garbage', async () => ({ status: 'maybe' }) as unknown as ProbeOutcome))
    r.register(probe('fine', async () => PASS))
    r.start()
    await until('first round', () => r.firstRoundDone)
    assert.equal(view(r, 'rejects').status, 'unknown')
    assert.match(view(r, 'rejects').reason!, /check threw: boom/)
    assert.equal(view(r, 'throws').status, 'unknown')
    assert.match(view(r, 'throws').reason!, /sync boom/)
    assert.equal(view(r, 'garbage').status, 'unknown')
    assert.match(view(r, 'garbage').reason!, /invalid outcome/)
    assert.equal(view(r, 'fine').status, 'pass')
  })

  it('never overlaps runs of one probe', async () => {
    const r = registry()
    let running = 0
    let most = 0
    let runs = 0
    r.register(
      probe('slow', async () => {
        runs++
        most = Math.max(most, ++running)
        await sleep(150) // longer than the interval, under the timeout
        running--
        return PASS
      }),
    )
    r.start()
    await until('three runs', () => runs >= 3)
    assert.equal(most, 1)
  })

  it('a result older than 3 intervals reads unknown (stale), before any timeout', async () => {
    const r = registry()
    let calls = 0
    // Passes once, then hangs ignoring its signal with a long timeout: no new result arrives.
    r.register(probe('stalls', () => (++calls === 1 ? Promise.resolve(PASS) : new Promise<ProbeOutcome>(() => {})), { intervalMs: 40, timeoutMs: 5000 }))
    r.start()
    await until('first result', () => view(r, 'stalls').status === 'pass')
    const passedAt = view(r, 'stalls').time!
    await until('stale', () => view(r, 'stalls').status === 'unknown', 2000)
    const staleAfter = Date.now() - passedAt
    assert.ok(staleAfter > 3 * 40, `stale after ${staleAfter} ms`)
    assert.ok(staleAfter < 5000, 'stale before the timeout could fire')
    assert.match(view(r, 'stalls').reason!, /^stale/)
    assert.equal(r.state().overall, 'unknown')
  })

  it('flap damping holds a probe through N-1 failures, fails on the Nth, recovers after M passes', async () => {
    const script: CheckStatus[] = ['pass', 'fail', 'fail', 'fail', 'pass', 'pass', 'pass']
    const seen: CheckStatus[] = []
    const r = registry()
    let run = 0
    r.register(
      probe(
        'flappy',
        async () => {
          // What the registry reports when run k starts: the effect of runs 0..k-1.
          if (run > 0) seen.push(view(r, 'flappy').status)
          const status = script[Math.min(run++, script.length - 1)]!
          return status === 'pass' ? PASS : { status: 'fail', output: 'nope' }
        },
        { failuresToFail: 3, passesToRecover: 2 },
      ),
    )
    r.start()
    await until('the script', () => seen.length >= script.length)
    //             pass    fail    fail(2) fail(3)  pass   pass(2)  pass
    assert.deepEqual(seen.slice(0, script.length), ['pass', 'pass', 'pass', 'fail', 'fail', 'pass', 'pass'])
  })

  it('logs each status change once, with probe, from, to and reason', async () => {
    const changes: StatusChange[] = []
    const script: ProbeOutcome[] = [PASS, PASS, { status: 'fail', output: 'disk gone' }, { status: 'fail', output: 'disk gone' }, PASS, PASS]
    let run = 0
    const r = registry({ onStatusChange: (c) => changes.push(c) })
    r.register(probe('watched', async () => script[Math.min(run++, script.length - 1)]!))
    r.start()
    await until('the script', () => run > script.length + 1)
    const mine = changes.filter((c) => c.probe === 'watched')
    assert.deepEqual(
      mine.map((c) => [c.from, c.to, c.reason]),
      [
        ['unknown', 'pass', 'passing'],
        ['pass', 'fail', 'disk gone'],
        ['fail', 'pass', 'passing'],
      ],
    )
  })

  it('calls onFirstRound once every probe has reported or timed out, and only then', async () => {
    let firstRound = 0
    const r = registry({ onFirstRound: () => firstRound++ })
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    r.register(probe('gated', async () => (await gate, PASS), { intervalMs: 1000 }))
    r.register(probe('quick', async () => PASS))
    r.start()
    await until('the quick probe', () => view(r, 'quick').status === 'pass')
    assert.equal(firstRound, 0)
    assert.equal(r.firstRoundDone, false)
    release()
    await until('the first round', () => r.firstRoundDone)
    await sleep(50)
    assert.equal(firstRound, 1)
  })

  it('refuses bad and duplicate names; a probe registered after start runs at once', async () => {
    const r = registry()
    assert.throws(() => r.register(probe('Bad-Name', async () => PASS)), /snake_case/)
    r.register(probe('one', async () => PASS))
    assert.throws(() => r.register(probe('one', async () => PASS)), /already registered/)
    r.start()
    r.register(probe('late', async () => PASS, { intervalMs: 60_000 }))
    await until('the late probe', () => view(r, 'late').status === 'pass', 1000)
  })

  it('stop() clears the timers and aborts checks in flight; nothing reports afterwards', async () => {
    const r = registry()
    let aborted = false
    let runs = 0
    r.register(
      probe('long', (signal) => {
        runs++
        return new Promise((_resolve, reject) => signal.addEventListener('abort', () => (aborted = true, reject(signal.reason))))
      }, { timeoutMs: 10_000 }),
    )
    r.start()
    await until('a run', () => runs === 1)
    r.stop()
    assert.ok(aborted)
    await sleep(100)
    assert.equal(runs, 1)
    assert.equal(view(r, 'long').time, null)
  })
})
