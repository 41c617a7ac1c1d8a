import fp from 'fastify-plugin'
import httpResponsive from './http-responsive.js'
import memory from './memory.js'
import fsWritable from './fs-writable.js'
import portBound from './port-bound.js'
import webhookEndpoint from './webhook-endpoint.js'
import ghostRunner from './ghost-runner.js'
import systemMetrics, { type SystemSampler } from './system-metrics.js'
import diskSpace from './disk-space.js'

export interface ProbesOptions {
  /** Replaces the systeminformation sampler (tests count its calls). */
  systemSampler?: SystemSampler
}

/**
 * Every health component, one plugin and one probe each; each probe file declares its own place
 * in `/health`. The order here is the order of `checks` and of the legacy `components`.
 */
export default fp<ProbesOptions>(
  async (app, opts) => {
    await app.register(httpResponsive)
    await app.register(memory)
    await app.register(fsWritable)
    await app.register(portBound)
    await app.register(ghostRunner)
    await app.register(webhookEndpoint)
    await app.register(systemMetrics, { sampler: opts.systemSampler })
    await app.register(diskSpace)
  },
  { name: 'probes', dependencies: ['probe-registry'] },
)
