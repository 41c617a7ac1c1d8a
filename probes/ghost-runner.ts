import fp from 'fastify-plugin'
import { Type } from '@sinclair/typebox'
import { componentPlace } from '../src/health/place.js'
import { readHeartbeatInfo } from '../src/schemas/runner-heartbeat.js'
import type { RunnerInfo } from '../src/store/port.js'

/** What a runner reported in its heartbeat, as this version reads it (a field of another shape is left out). */
const heartbeatOf = (r: RunnerInfo) => readHeartbeatInfo(r.info)

/**
 * `ghost_runner` (non-critical): some runner has sent a heartbeat within runnerStaleMs. Without
 * one, patches still queue durably, so the service is degraded (`ghost_down`), not unhealthy.
 * A runner that reports blocked workspaces (`workspace_blocked`) or checks running outside the
 * sandbox or without a process limit (`checks_unconfined`) degrades it too, naming them.
 */
export default fp(
  async (app) => {
    const { runnerStaleMs } = app.config.health
    app.probes.register({
      name: 'ghost_runner',
      place: componentPlace('ghost_runner', Type.Union([Type.Literal('up'), Type.Literal('down')]), 'down'),
      critical: false,
      componentType: 'component',
      measurement: 'heartbeatAge',
      async check() {
        // A runner that said it is stopping no longer counts, so `ghost_down` shows at once.
        const runners = (await app.store.runners()).filter((r) => heartbeatOf(r).stopping !== true)
        const newest = runners.reduce((max, r) => Math.max(max, Date.parse(r.last_seen) || 0), 0)
        const ageMs = newest > 0 ? Math.max(0, Date.now() - newest) : null
        if (ageMs !== null && ageMs < runnerStaleMs) {
          // Workspaces a runner refuses to touch (a person's uncommitted changes) degrade health by name,
          // and so do checks running less confined than the default sandbox.
          const fresh = runners.filter((r) => Date.now() - Date.parse(r.last_seen) < runnerStaleMs).map(heartbeatOf)
          const blocked = fresh.flatMap((info) => info.blocked ?? [])
          const unconfined = [...new Set(fresh.flatMap((info) => info.sandbox ?? []))]
          if (blocked.length > 0 || unconfined.length > 0) {
            return {
              status: 'warn',
              observedValue: ageMs,
              observedUnit: 'ms',
              legacy: 'up',
              flag: blocked.length > 0 ? 'workspace_blocked' : 'checks_unconfined',
              output: [...blocked.map((b) => `${b.target}: ${b.code}`), ...unconfined].join('; '),
            }
          }
          return { status: 'pass', observedValue: ageMs, observedUnit: 'ms', legacy: 'up' }
        }
        return {
          status: 'fail',
          observedValue: ageMs,
          observedUnit: 'ms',
          legacy: 'down',
          flag: 'ghost_down',
          output: ageMs === null ? 'no runner has ever sent a heartbeat' : `newest runner heartbeat is ${ageMs} ms old (limit ${runnerStaleMs} ms)`,
        }
      },
    })
  },
  { name: 'probe-ghost-runner', dependencies: ['config', 'store', 'probe-registry'] },
)
