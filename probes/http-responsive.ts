import fp from 'fastify-plugin'
import { Type } from '@sinclair/typebox'
import { componentPlace } from '../src/health/place.js'
import type { ProbeStatus } from '../src/schemas/health.js'

const RESOLUTION_MS = 10

/**
 * `http_responsive` (critical): the worst event-loop delay over the last two runs, so a block
 * stays visible for a whole interval after the run that saw it. The worst, not a percentile: a
 * loop blocked for a second yields a single late tick, which any percentile would average away,
 * and that second is what a request waited.
 *
 * Measured by a timer ticking every RESOLUTION_MS: each tick late by more than that is delay.
 * A run also counts the gap still open since the last tick, so a block that ended just before
 * it is seen even if the timer has not fired since. The sampler never forgets its last tick
 * (perf_hooks' histogram does on reset(), and then missed a block right after the first round).
 */
export default fp(
  async (app) => {
    const { eventLoopWarnMs, eventLoopFailMs } = app.config.health
    let last = 0
    let worstMs = 0
    let previousMs = 0
    let timer: NodeJS.Timeout | undefined
    // Measured from ready on: loading and compiling the app is startup's work (GET /health/startup),
    // and counted here it read as a blocked loop, turning /health/live 503 right after a slow start.
    app.addHook('onReady', async () => {
      last = performance.now()
      timer = setInterval(() => {
        const now = performance.now()
        worstMs = Math.max(worstMs, now - last - RESOLUTION_MS)
        last = now
      }, RESOLUTION_MS).unref()
    })
    app.addHook('onClose', async () => {
      clearInterval(timer)
    })

    app.probes.register({
      name: 'http_responsive',
      place: componentPlace('http_responsive', Type.Boolean(), false),
      critical: true,
      componentType: 'system',
      measurement: 'eventLoopDelay',
      async check() {
        const open = timer ? performance.now() - last - RESOLUTION_MS : 0
        const sinceLast = Math.max(0, worstMs, open)
        const delayMs = Math.max(sinceLast, previousMs)
        previousMs = sinceLast
        worstMs = 0
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
