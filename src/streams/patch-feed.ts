import type { FastifyBaseLogger } from 'fastify'
import type { PatchRecord } from '../schemas/record.js'
import type { Store } from '../store/port.js'

export type RecordListener = (record: PatchRecord) => void

export interface PatchFeedOptions {
  store: Store
  /**
   * The slow safety read of each followed patch: store notifications can be lost (a NOTIFY that
   * failed after its commit, a process that died in between), and a stream must never miss a
   * transition. Jittered by ±25 % so followers opened together do not read together.
   */
  pollMs: number
  log: FastifyBaseLogger
}

/** One followed patch: the streams following it and its single in-flight read. */
interface Watch {
  id: string
  listeners: Set<RecordListener>
  reading: boolean
  /** A change was announced while a read was in flight: that read may predate it. */
  again: boolean
  timer: NodeJS.Timeout | undefined
  failing: boolean
}

/**
 * Reads followed patches when the store says they changed, once per patch however many streams
 * follow it, and hands each record to the patch's followers. Nothing is read for a patch nobody
 * follows, and nothing at all between changes but the slow safety read.
 */
export class PatchFeed {
  readonly #store: Store
  readonly #pollMs: number
  readonly #log: FastifyBaseLogger
  readonly #watches = new Map<string, Watch>()
  #unsubscribe: (() => void) | null = null

  constructor(opts: PatchFeedOptions) {
    this.#store = opts.store
    this.#pollMs = opts.pollMs
    this.#log = opts.log
  }

  /** Patches followed right now. */
  get size(): number {
    return this.#watches.size
  }

  /**
   * Calls `listener` with the patch's record each time it may have changed, from now on: a
   * change committed after this call is always delivered. Returns the function that stops it.
   */
  follow(id: string, listener: RecordListener): () => void {
    let watch = this.#watches.get(id)
    if (!watch) {
      watch = { id, listeners: new Set(), reading: false, again: false, timer: undefined, failing: false }
      this.#watches.set(id, watch)
      this.#unsubscribe ??= this.#store.onPatchChanged((changed) => this.#changed(changed))
      this.#schedule(watch)
    }
    watch.listeners.add(listener)
    const w = watch
    return () => {
      if (!w.listeners.delete(listener) || w.listeners.size > 0) return
      clearTimeout(w.timer)
      this.#watches.delete(id)
      if (this.#watches.size === 0) this.#stopListening()
    }
  }

  close(): void {
    for (const watch of this.#watches.values()) clearTimeout(watch.timer)
    this.#watches.clear()
    this.#stopListening()
  }

  #stopListening(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = null
  }

  #changed(id: string | null): void {
    if (id !== null) {
      const watch = this.#watches.get(id)
      if (watch) void this.#read(watch)
      return
    }
    for (const watch of this.#watches.values()) void this.#read(watch)
  }

  #deliver(listener: RecordListener, record: PatchRecord): void {
    try {
      listener(record)
    } catch (err) {
      this.#log.error({ err, patch: record.id }, 'event stream follower threw')
    }
  }

  #schedule(watch: Watch): void {
    clearTimeout(watch.timer)
    watch.timer = setTimeout(() => void this.#read(watch), this.#pollMs * (0.75 + Math.random() / 2))
    watch.timer.unref()
  }

  async #read(watch: Watch): Promise<void> {
    if (watch.reading) {
      watch.again = true
      return
    }
    watch.reading = true
    try {
      do {
        watch.again = false
        let record: PatchRecord | null
        try {
          record = await this.#store.get(watch.id)
          if (watch.failing) this.#log.info({ patch: watch.id }, 'event stream reads the store again')
          watch.failing = false
        } catch (err) {
          if (this.#watches.get(watch.id) !== watch) return
          // Keep following: a store blip must not end every open stream. Logged once per outage;
          // the safety read tries again.
          if (!watch.failing) this.#log.warn({ err, patch: watch.id }, 'event stream could not read the store; retrying')
          watch.failing = true
          break
        }
        if (this.#watches.get(watch.id) !== watch) return
        if (record) for (const listener of [...watch.listeners]) this.#deliver(listener, record)
      } while (watch.again && this.#watches.get(watch.id) === watch)
    } finally {
      watch.reading = false
    }
    if (this.#watches.get(watch.id) === watch) this.#schedule(watch)
  }
}
