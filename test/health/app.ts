import { Writable } from 'node:stream'
import { join } from 'node:path'
import { after } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp } from '../../src/app.js'
import { defineConfig, type Config } from '../../src/config.js'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import { TOKEN, tempDir } from '../helpers/app.js'

export { TOKEN }
export const bearer = { authorization: `Bearer ${TOKEN}` }

export type App = Awaited<ReturnType<typeof buildApp>>

/**
 * Thresholds far from anything a busy test machine reaches, so only the probe under test
 * decides the outcome; tests that exercise a threshold set their own.
 */
const CALM: Partial<Config['health']> = { eventLoopWarnMs: 5000, eventLoopFailMs: 10_000, diskWarnMb: 1, diskFailMb: 0 }

export interface HealthAppOptions {
  health?: Partial<Config['health']>
  /** Runs after build, before ready: register extra probes through app.probes here. */
  before?: (app: App) => void
  /** Collects the app's log lines (JSON, level info and up). */
  logs?: Record<string, unknown>[]
  /** A runner heartbeat now, so ghost_runner passes. */
  runner?: boolean
}

/** The real app on a temp data dir and its own SQLite store, closed when the test file ends. */
export async function healthApp(opts: HealthAppOptions = {}): Promise<App> {
  const dataDir = tempDir('gr-health-')
  const base = defineConfig({ dataDir })
  const config = defineConfig({
    dataDir,
    port: 0,
    logLevel: 'silent',
    apiTokens: [TOKEN],
    health: { ...base.health, ...CALM, ...opts.health },
  })
  const store = await openSqliteStore({ file: join(dataDir, 'store.db') })
  if (opts.runner) await store.runnerHeartbeat({ id: 'runner-1', host: 'test', pid: process.pid, started_at: new Date().toISOString(), info: {} })
  const logs = opts.logs
  const logger = logs
    ? {
        level: 'info',
        stream: new Writable({
          write(chunk, _enc, done) {
            for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line))
            done()
          },
        }),
      }
    : false
  const app = await buildApp(config, { store, logger })
  after(async () => {
    await app.close()
    await store.close()
  })
  opts.before?.(app)
  await app.ready()
  return app
}

/** Polls until the first probe round has completed. */
export async function started(app: App, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  while (!app.lifecycle.started) {
    if (Date.now() > deadline) throw new Error('the first probe round did not complete')
    await sleep(10)
  }
}

export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}
