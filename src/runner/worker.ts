import closeWithGrace from 'close-with-grace'
import { pino, type LoggerOptions } from 'pino'
import type { Config } from '../config.js'
import { Dispatcher } from '../notify/dispatcher.js'
import { openStore } from '../store/open.js'
import { Runner } from './runner.js'

/**
 * `ghost-runner work`: a runner alone against the configured store. The first SIGTERM/SIGINT
 * stops claiming and lets the in-flight patches finish; a second signal, or the shutdown
 * deadline, exits at once (the crash journal undoes an interrupted write on the next start).
 */
export async function runWorker(config: Config, loggerOptions: LoggerOptions): Promise<Runner> {
  const log = pino(loggerOptions)
  const store = await openStore(config, log)
  const runner = new Runner({ store, config, log })
  // Runners send notifications too, so a deployment of runners alone still delivers them.
  const notifier = new Dispatcher({ store, config, log: log.child({ component: 'notify' }) })
  try {
    await runner.start()
  } catch (err) {
    await runner.stop().catch(() => {})
    await store.close()
    throw err
  }
  notifier.start()
  // Every runner timer is unref'ed (it must not hold a server open); here it is the whole process.
  const keepAlive = setInterval(() => {}, 1 << 30)
  closeWithGrace({ delay: config.shutdownTimeoutMs, logger: log }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'fatal error, stopping the runner')
    else log.info({ signal }, 'stopping the runner: in-flight patches finish first')
    await runner.stop()
    await notifier.stop()
    await store.close()
    clearInterval(keepAlive)
  })
  return runner
}
