import fp from 'fastify-plugin'

/**
 * `ghost_runner` (non-critical): some runner has sent a heartbeat within runnerStaleMs. Without
 * one, patches still queue durably, so the service is degraded (`ghost_down`), not unhealthy.
 */
export default fp(
  async (app) => {
    const { runnerStaleMs } = app.config.health
    app.probes.register({
      name: 'ghost_runner',
      critical: false,
      componentType: 'component',
      measurement: 'heartbeatAge',
      async check() {
        // A runner that said it is stopping no longer counts, so `ghost_down` shows at once.
        const runners = (await app.store.runners()).filter((r) => r.info.stopping !== true)
        const newest = runners.reduce((max, r) => Math.max(max, Date.parse(r.last_seen) || 0), 0)
        const ageMs = newest > 0 ? Math.max(0, Date.now() - newest) : null
        if (ageMs !== null && ageMs < runnerStaleMs) {
          // Workspaces a runner refuses to touch (a person's uncommitted changes) degrade health by name.
          const blocked = runners
            .filter((r) => Date.now() - Date.parse(r.last_seen) < runnerStaleMs)
            .flatMap((r) => (Array.isArray(r.info.blocked) ? (r.info.blocked as { target: string; code: string }[]) : []))
          if (blocked.length > 0) {
            return {
              status: 'warn',
              observedValue: ageMs,
              observedUnit: 'ms',
              component: 'up',
              flag: 'workspace_blocked',
              output: blocked.map((b) => `${b.target}: ${b.code}`).join('; '),
            }
          }
          return { status: 'pass', observedValue: ageMs, observedUnit: 'ms', component: 'up' }
        }
        return {
          status: 'fail',
          observedValue: ageMs,
          observedUnit: 'ms',
          component: 'down',
          flag: 'ghost_down',
          output: ageMs === null ? 'no runner has ever sent a heartbeat' : `newest runner heartbeat is ${ageMs} ms old (limit ${runnerStaleMs} ms)`,
        }
      },
    })
  },
  { name: 'probe-ghost-runner', dependencies: ['config', 'store', 'probe-registry'] },
)
