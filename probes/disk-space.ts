import fp from 'fastify-plugin'
import type { ProbeStatus } from '../src/schemas/health.js'
import { diskUsage } from '../src/health/disk-usage.js'

const MiB = 1024 * 1024

/**
 * `disk_space` (critical): free space on the data directory's filesystem. Below diskWarnMb it
 * degrades (`disk_low`); below diskFailMb writes are about to fail, so it is unhealthy (`disk_full`).
 */
export default fp(
  async (app) => {
    const { dataDir } = app.config
    const { diskWarnMb, diskFailMb } = app.config.health
    app.probes.register({
      name: 'disk_space',
      critical: true,
      componentType: 'system',
      measurement: 'free',
      async check() {
        const freeMb = Math.floor((await diskUsage(dataDir)).freeBytes / MiB)
        const status: ProbeStatus = freeMb < diskFailMb ? 'fail' : freeMb < diskWarnMb ? 'warn' : 'pass'
        return {
          status,
          observedValue: freeMb,
          observedUnit: 'MiB',
          ...(status === 'warn' ? { flag: 'disk_low' } : status === 'fail' ? { flag: 'disk_full' } : {}),
          ...(status === 'pass' ? {} : { output: `${freeMb} MiB free (warn below ${diskWarnMb}, fail below ${diskFailMb})` }),
        }
      },
    })
  },
  { name: 'probe-disk-space', dependencies: ['config', 'probe-registry'] },
)
