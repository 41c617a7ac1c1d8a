import type { Store } from '../store/port.js'

/**
 * The queue-depth cap without a store read per request: the depth is refreshed from the store's
 * per-status totals (a few rows, whatever is stored or queued) at most every `refreshMs` and
 * advanced locally by each accepted patch in between.
 */
export function queueDepthGauge(store: Store, cap: number, refreshMs = 500) {
  let depth = 0
  let refreshedAt = 0
  let pending: Promise<void> | null = null
  const refresh = async () => {
    depth = await store.queuedTotal()
    refreshedAt = Date.now()
  }
  return {
    async full(): Promise<boolean> {
      if (Date.now() - refreshedAt > refreshMs) {
        pending ??= refresh().finally(() => (pending = null))
        await pending
      }
      return depth >= cap
    },
    added() {
      depth++
    },
  }
}
