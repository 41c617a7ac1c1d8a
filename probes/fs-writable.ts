import { mkdir, open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import fp from 'fastify-plugin'
import { Type } from '@sinclair/typebox'
import { componentPlace } from '../src/health/place.js'

/**
 * `fs_writable` (critical): the data directory takes a write that reaches the disk — the same
 * guarantee the store relies on — so the file is fsynced, not just written.
 */
export default fp(
  async (app) => {
    const dir = app.config.dataDir
    // One name per process: concurrent instances sharing a data dir never touch each other's file.
    const file = join(dir, `.health-${process.pid}`)
    const payload = Buffer.from('ghost-runner health probe\n')

    app.probes.register({
      name: 'fs_writable',
      place: componentPlace('fs_writable', Type.Boolean(), false),
      critical: true,
      componentType: 'system',
      measurement: 'responseTime',
      async check() {
        const started = performance.now()
        try {
          await mkdir(dir, { recursive: true })
          const handle = await open(file, 'w')
          try {
            await handle.writeFile(payload)
            await handle.sync()
          } finally {
            await handle.close()
          }
          await unlink(file)
        } catch (err) {
          const e = err as NodeJS.ErrnoException
          return { status: 'fail', observedValue: null, legacy: false, output: `data directory not writable: ${e.code ?? ''} ${e.message}`.trim() }
        }
        return { status: 'pass', observedValue: Math.round((performance.now() - started) * 10) / 10, observedUnit: 'ms', legacy: true }
      },
    })
  },
  { name: 'probe-fs-writable', dependencies: ['config', 'probe-registry'] },
)
