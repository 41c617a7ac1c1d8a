import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import fp from 'fastify-plugin'
import { Type } from '@sinclair/typebox'
import { componentPlace } from '../src/health/place.js'
import type { ProbeStatus } from '../src/schemas/health.js'

const RESOLUTION_MS = 10

/**
 * `http_responsive` (critical): the worst event-loop delay over the last two runs. The worst,
 * not a percentile: a loop blocked for a second yields a single late sample, which any
 * percentile would average away, and that second is what a request waited.
 *
 * Two histograms reset on alternate runs, because reset() also forgets the previous tick: a
 * block starting right after a reset would be recorded by neither tick around it. The other
 * histogram, still running, sees it.
 */
export default fp(
  async (app) => {
    const { eventLoopWarnMs, eventLoopFailMs } = app.config.health
    const histograms = [monitorEventLoopDelay({ resolution: RESOLUTION_MS }), monitorEventLoopDelay({ resolution: RESOLUTION_MS })] as const
    // Measured from ready on: loading and compiling the app is startup's work (GET /health/startup),
    // and counted here it read as a blocked loop, turning /health/live 503 right after a slow start.
    app.addHook('onReady', async () => {
      for (const h of histograms) h.enable()
    })
    app.addHook('onClose', async () => {
      for (const h of histograms) h.disable()
    })
    let turn = 0

    app.probes.register({
      name: 'http_responsive',
      place: componentPlace('http_responsive', Type.Boolean(), false),
      critical: true,
      componentType: 'system',
      measurement: 'eventLoopDelay',
      async check(signal) {
        // After a block this run's timer may fire before the histograms' own; yielding one
        // resolution lets them record the block first.
        await sleep(RESOLUTION_MS + 1, undefined, { signal })
        let worstNs = 0
        for (const h of histograms) if (h.count > 0) worstNs = Math.max(worstNs, h.max)
        histograms[turn]!.reset()
        turn ^= 1
        // Each sample includes the timer's own resolution; only the excess is delay.
        const delayMs = Math.max(0, worstNs / 1e6 - RESOLUTION_MS)
        const status: ProbeStatus = delayMs >= eventLoopFailMs ? 'fail' : delayMs >= eventLoopWarnMs ? 'warn' : 'pass'
        return {
          status,
          observedValue: Math.round(delayMs * 10) / 10,
          observedUnit: 'ms',
          legacy: status !== 'fail',
          ...(status === 'pass' ? {} : { output: `event loop delayed ${delayMs.toFixed(0)} ms (warn ${eventLoopWarnMs}, fail ${eventLoopFailMs})` }),
          ...(status === 'warn' ? { flag: 'event_loop_slow' } : status === 'fail' ? { flag: 'event_loop_blocked' } : {}),
        }
      },
    })
  },
  { name: 'probe-http-responsive', dependencies: ['config', 'probe-registry'] },
)
