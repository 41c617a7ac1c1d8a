import fp from 'fastify-plugin'
import si from 'systeminformation'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { bodyPlace } from '../src/health/place.js'
import { diskUsage } from '../src/health/disk-usage.js'
import { cpuSampler, receivedBytes } from '../src/health/host-counters.js'

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])

/** The previous system's `system_metrics`; a figure the host would not give is null. */
export const SystemMetrics = Type.Object(
  {
    cpu: Type.Object({ count: Nullable(Type.Integer()), percent: Nullable(Type.Number()) }),
    memory: Type.Object({ percent: Nullable(Type.Number()) }),
    disk: Type.Object({ percent: Nullable(Type.Number({ description: "Used share of the data directory's filesystem" })) }),
    network: Type.Object({ bytes_recv: Nullable(Type.Number({ description: 'Bytes received, summed over non-loopback interfaces' })) }),
  },
  { title: 'SystemMetrics' },
)
export type SystemMetrics = Static<typeof SystemMetrics>

const NO_METRICS: SystemMetrics = { cpu: { count: null, percent: null }, memory: { percent: null }, disk: { percent: null }, network: { bytes_recv: null } }

/** `system_metrics` is a field of the legacy body itself, beside `components`. */
const place = bodyPlace('system_metrics', SystemMetrics, NO_METRICS)

export type SystemSampler = (dataDir: string) => Promise<SystemMetrics>

const round = (n: number) => Math.round(n * 10) / 10
const isLoopbackInterface = (iface: string) => iface === 'lo' || iface.startsWith('lo0') || /loopback/i.test(iface)

/** Settles to null instead of failing: one figure the host will not give leaves the others. */
const settle = async <T>(p: Promise<T>): Promise<T | null> => p.catch(() => null)

const cpu = cpuSampler()

/** Bytes received by the non-loopback interfaces: /proc/net/dev where there is one, else systeminformation. */
async function networkReceived(): Promise<number | null> {
  const fromProc = await receivedBytes()
  if (fromProc !== null) return fromProc
  const net = await si.networkStats('*')
  return net.filter((n) => !isLoopbackInterface(n.iface)).reduce((sum, n) => sum + (n.rx_bytes || 0), 0)
}

/**
 * The default sampler: nothing in it starts a process on Linux (see host-counters.ts). The
 * systeminformation functions are looked up on the module object at call time, so a test can
 * count calls by wrapping them. The disk figure is the data directory's own filesystem, which
 * statfs answers exactly; systeminformation would list every mount by shelling out to df.
 */
export const sampleSystem: SystemSampler = async (dataDir) => {
  const [mem, received, disk] = await Promise.all([settle(si.mem()), settle(networkReceived()), settle(diskUsage(dataDir))])
  const load = cpu()
  return {
    cpu: { count: load.count, percent: round(load.percent) },
    memory: { percent: mem && mem.total > 0 ? round((mem.active / mem.total) * 100) : null },
    disk: { percent: disk ? round(disk.usedPercent) : null },
    network: { bytes_recv: received },
  }
}

/**
 * `system_metrics` (non-critical, informational): host figures for the legacy body, sampled in
 * the background on the probe's interval only. It always passes; only a sampler outliving its
 * timeout makes it unknown, which degrades and never fails the service.
 */
export default fp<{ sampler?: SystemSampler }>(
  async (app, opts) => {
    const sampler = opts.sampler ?? sampleSystem
    const { dataDir } = app.config
    app.probes.register({
      name: 'system_metrics',
      place,
      critical: false,
      componentType: 'system',
      measurement: 'cpuUtilization',
      timeoutMs: app.config.health.timeoutMs,
      async check() {
        const metrics = await sampler(dataDir)
        return { status: 'pass', observedValue: metrics.cpu.percent, observedUnit: '%', legacy: metrics }
      },
    })
  },
  { name: 'probe-system-metrics', dependencies: ['config', 'probe-registry'] },
)
