import type { LoggerOptions } from 'pino'
import { buildWorker } from '../app.js'
import type { Config } from '../config.js'
import { onShutdown } from '../graceful-shutdown.js'

/**
 * `ghost-runner work`: a runner alone against the configured store, built from the plugins of
 * `start` (src/app.ts) without a listener. The first SIGTERM/SIGINT stops claiming and lets the
 * in-flight patches finish; a second signal (not the same one delivered twice within a second),
 * or the shutdown deadline, exits at once (the crash journal undoes an interrupted write on the
 * next start).
 */
export async function runWorker(config: Config, loggerOptions: LoggerOptions): Promise<void> {
  const app = await buildWorker(config, { logger: loggerOptions })
  try {
    await app.ready()
  } catch (err) {
    await app.close().catch(() => {})
    throw err
  }
  const log = app.log
  // Every runner timer is unref'ed (it must not hold a server open); here it is the whole process.
  const keepAlive = setInterval(() => {}, 1 << 30)
  onShutdown({ deadlineMs: config.shutdownTimeoutMs, log }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'fatal error, stopping the runner')
    else log.info({ signal }, 'stopping the runner: in-flight patches finish first')
    await app.close()
    clearInterval(keepAlive)
  })
}
