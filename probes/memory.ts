import { totalmem } from 'node:os'
import { getHeapStatistics } from 'node:v8'
import fp from 'fastify-plugin'
import type { ProbeStatus } from '../src/schemas/health.js'

/** The container's memory limit, when there is one below the host's memory. */
function memoryLimit(): number | null {
  const limit = process.constrainedMemory?.() ?? 0
  // Unconstrained cgroups report a huge sentinel; only a real limit below the host's RAM counts.
  return limit > 0 && limit < totalmem() ? limit : null
}

/**
 * `memory` (critical): the heap against V8's heap limit and, inside a memory-limited container,
 * RSS against that limit — whichever is closer to the edge. RSS against the host's RAM is left
 * out: on a shared host it says nothing about this process's budget.
 */
export default fp(
  async (app) => {
    const { heapWarnPercent, heapFailPercent } = app.config.health
    const limit = memoryLimit()

    app.probes.register({
      name: 'memory',
      critical: true,
      componentType: 'system',
      measurement: 'utilization',
      async check() {
        const heap = getHeapStatistics()
        const heapPercent = (heap.used_heap_size / heap.heap_size_limit) * 100
        const rssPercent = limit === null ? 0 : (process.memoryUsage.rss() / limit) * 100
        const percent = Math.max(heapPercent, rssPercent)
        const status: ProbeStatus = percent >= heapFailPercent ? 'fail' : percent >= heapWarnPercent ? 'warn' : 'pass'
        return {
          status,
          observedValue: Math.round(percent * 10) / 10,
          observedUnit: '%',
          ...(status === 'pass'
            ? {}
            : { output: `heap ${heapPercent.toFixed(1)}% of its limit${limit === null ? '' : `, RSS ${rssPercent.toFixed(1)}% of the container limit`} (warn ${heapWarnPercent}%, fail ${heapFailPercent}%)` }),
        }
      },
    })
  },
  { name: 'probe-memory', dependencies: ['config', 'probe-registry'] },
)
