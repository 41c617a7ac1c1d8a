import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { Pruner } from '../src/store/pruner.js'

const DAY_MS = 24 * 60 * 60 * 1000

/**
 * Retention (GHOST_RETENTION_DAYS): finished patches older than that are deleted in the
 * background, with their events and outbox rows, in short batches (src/store/pruner.ts). Every
 * gateway runs it; on PostgreSQL they take different rows (SKIP LOCKED). Counted in
 * ghost_patches_pruned_total (this process's deletions).
 */
export default fp(
  async (app) => {
    const pruned = new Counter({
      name: 'ghost_patches_pruned_total',
      help: 'Finished patches this process deleted because they were older than the retention age.',
      registers: app.hasDecorator('metricsRegistry') ? [app.metricsRegistry] : [],
    })
    const log = app.log.child({ component: 'retention' })
    const { retention } = app.config
    const pruner = new Pruner(app.store, {
      maxAgeMs: app.config.retentionDays * DAY_MS,
      batch: retention.batch,
      pauseMs: retention.pauseMs,
      intervalMs: retention.intervalMs,
      reclaimPages: retention.reclaimPages,
      onPruned: (n) => {
        pruned.inc(n)
        log.debug({ pruned: n }, 'old finished patches deleted')
      },
      onError: (err) => log.warn({ err }, 'retention round failed; the next one tries again'),
    })
    app.addHook('onReady', async () => pruner.start())
    app.addHook('onClose', () => pruner.stop())
  },
  { name: 'retention', dependencies: ['config', 'store'] },
)
