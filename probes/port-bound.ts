import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import fp from 'fastify-plugin'
import { Type } from '@sinclair/typebox'
import { componentPlace } from '../src/health/place.js'

/** The address a client would dial to reach a listener bound to `addr`. */
function dialable(addr: AddressInfo): string {
  if (addr.address === '0.0.0.0') return '127.0.0.1'
  if (addr.address === '::') return '::1'
  return addr.address
}

function connectOnce(target: { host: string; port: number } | { path: string }, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ ...target, signal, noDelay: true })
    socket.once('connect', () => {
      socket.destroy()
      resolve()
    })
    socket.once('error', reject)
  })
}

/**
 * `port_<port>_bound` (critical): a real TCP connect to the address the server listens on.
 *
 * A process built only for `inject` (tests, the OpenAPI generator) never binds a port, and
 * "not listening" is neither a pass nor a failure there, so the probe is registered from
 * onListen: until then it does not exist, weighs nothing in the overall status, and the legacy
 * `components.port_<port>_bound` reads false. Once listening it is critical like any other,
 * and its first result arrives within the startup round that listen() overlaps.
 */
export default fp(
  async (app) => {
    const name = `port_${app.config.port}_bound`
    // Its key names the configured port, so the document describes it by pattern; held from the
    // start, false until the probe exists.
    const place = componentPlace(name, Type.Boolean(), false, '`port_<port>_bound` (false until the server listens on <port>)')
    app.probes.declare(place)
    app.addHook('onListen', async () => {
      if (app.probes.has(name)) return
      app.probes.register({
        name,
        place,
        critical: true,
        componentType: 'system',
        measurement: 'connectTime',
        async check(signal) {
          const addr = app.server.address()
          if (addr === null) return { status: 'fail', observedValue: null, legacy: false, output: 'the server is no longer listening' }
          const target = typeof addr === 'string' ? { path: addr } : { host: dialable(addr), port: addr.port }
          const started = performance.now()
          try {
            await connectOnce(target, signal)
          } catch (err) {
            const e = err as NodeJS.ErrnoException
            return { status: 'fail', observedValue: null, legacy: false, output: `connect failed: ${e.code ?? e.message}` }
          }
          return { status: 'pass', observedValue: Math.round((performance.now() - started) * 10) / 10, observedUnit: 'ms', legacy: true }
        },
      })
    })
  },
  { name: 'probe-port-bound', dependencies: ['config', 'probe-registry'] },
)
