import type { FastifyBaseLogger } from 'fastify'
import type { PatchRecord, PatchSummary } from '../schemas/record.js'
import type { Store } from '../store/port.js'

export type SummaryListener = (summary: PatchSummary) => void

export interface ChangeFeedOptions {
  store: Store
  /**
   * The slow safety rescan: store notifications can be lost, and a change another process made
   * may be announced only as "something changed". Jittered by ±25 %.
   */
  pollMs: number
  log: FastifyBaseLogger
}

/** Patches a rescan reads: the newest, and the running ones (every change of a claimed patch). */
const PAGE = 100
/** Patches whose last state is remembered, so that a rescan hands on only what changed. */
const REMEMBERED = 5_000

/** The list view of a record, as GET /patches shows it. */
export function summarize(record: PatchRecord): PatchSummary {
  const { patch: _patch, events: _events, result: _result, ...summary } = record
  return summary
}

interface Seen {
  updatedAt: number
  fingerprint: string
}

/**
 * Every patch change, as list summaries, for streams that show the whole queue: the state read
 * after a change, so changes that come faster than they are read are handed on as one (the
 * later state), never an older state after a newer one. A change the store announces by id is
 * read once however many streams listen. A change announced only as
 * "something changed" (another process wrote; a notification connection came back), and the
 * slow safety rescan, read the newest and the running patches and hand on those that changed:
 * every claim shows as a running patch, and a patch last seen running that left the list is read
 * by id, so a runner in another process is followed exactly. Only a patch older than the newest
 * PAGE that another process claims and finishes between two rescans goes unannounced. Nothing is
 * read while nobody listens.
 */
export class ChangeFeed {
  readonly #store: Store
  readonly #pollMs: number
  readonly #log: FastifyBaseLogger
  readonly #listeners = new Set<SummaryListener>()
  readonly #seen = new Map<string, Seen>()
  #running = new Set<string>()
  readonly #reading = new Map<string, { again: boolean }>()
  /** A first rescan has set the baseline: until then what it reads is not news. */
  #primed = false
  #rescanning = false
  #rescanAgain = false
  #failing = false
  #timer: NodeJS.Timeout | undefined
  #unsubscribe: (() => void) | null = null

  constructor(opts: ChangeFeedOptions) {
    this.#store = opts.store
    this.#pollMs = opts.pollMs
    this.#log = opts.log
  }

  get listening(): boolean {
    return this.#unsubscribe !== null
  }

  /** Calls `listener` with the summary of each patch that changes from now on; returns the function that stops it. */
  subscribe(listener: SummaryListener): () => void {
    this.#listeners.add(listener)
    if (!this.#unsubscribe) this.#start()
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return
      this.close()
    }
  }

  close(): void {
    this.#listeners.clear()
    clearTimeout(this.#timer)
    this.#unsubscribe?.()
    this.#unsubscribe = null
    this.#seen.clear()
    this.#running.clear()
    this.#primed = false
  }

  #start(): void {
    this.#unsubscribe = this.#store.onPatchChanged((id) => (id === null ? void this.#rescan() : void this.#read(id)))
    // What the store holds now is the baseline: a listener hears what changes after it joined.
    void this.#rescan()
  }

  #offer(summary: PatchSummary, deliver: boolean): void {
    const updatedAt = Date.parse(summary.updated_at)
    const fingerprint = `${summary.status}|${summary.attempts}|${summary.updated_at}`
    const seen = this.#seen.get(summary.id)
    // A slower read must never hand on an older state after a newer one.
    if (seen && (seen.fingerprint === fingerprint || updatedAt < seen.updatedAt)) return
    this.#seen.delete(summary.id)
    this.#seen.set(summary.id, { updatedAt, fingerprint })
    if (this.#seen.size > REMEMBERED) this.#seen.delete(this.#seen.keys().next().value!)
    if (summary.status === 'running') this.#running.add(summary.id)
    else this.#running.delete(summary.id)
    if (!deliver) return
    for (const listener of [...this.#listeners]) {
      try {
        listener(summary)
      } catch (err) {
        this.#log.error({ err, patch: summary.id }, 'change stream listener threw')
      }
    }
  }

  /** Reads one announced patch; a change announced while its read is in flight reads it again. */
  async #read(id: string): Promise<void> {
    const inFlight = this.#reading.get(id)
    if (inFlight) {
      inFlight.again = true
      return
    }
    const state = { again: false }
    this.#reading.set(id, state)
    try {
      do {
        state.again = false
        const record = await this.#store.get(id)
        if (!this.#unsubscribe) return
        if (record) this.#offer(summarize(record), true)
      } while (state.again)
    } catch (err) {
      // The next rescan makes up for it.
      this.#log.warn({ err, patch: id }, 'change stream could not read a patch; the next rescan will')
    } finally {
      this.#reading.delete(id)
    }
  }

  async #rescan(): Promise<void> {
    if (this.#rescanning) {
      this.#rescanAgain = true
      return
    }
    this.#rescanning = true
    try {
      do {
        this.#rescanAgain = false
        if (!this.#unsubscribe) return
        const found = await this.#readRecent()
        if (!this.#unsubscribe) return
        if (found === null) break
        for (const summary of found) this.#offer(summary, this.#primed)
        this.#primed = true
      } while (this.#rescanAgain)
    } finally {
      this.#rescanning = false
      this.#schedule()
    }
  }

  /** The newest and running patches, and those last seen running that are no longer; null when the store failed. */
  async #readRecent(): Promise<PatchSummary[] | null> {
    try {
      const [newest, running] = await Promise.all([this.#store.list({ limit: PAGE }), this.#store.list({ status: 'running', limit: PAGE })])
      const found = new Map<string, PatchSummary>()
      for (const s of [...newest.items, ...running.items]) found.set(s.id, s)
      for (const id of this.#running) {
        if (found.has(id)) continue
        const record = await this.#store.get(id)
        if (record) found.set(id, summarize(record))
      }
      if (this.#failing) this.#log.info('change stream reads the store again')
      this.#failing = false
      return [...found.values()]
    } catch (err) {
      if (!this.#failing) this.#log.warn({ err }, 'change stream could not read the store; retrying')
      this.#failing = true
      return null
    }
  }

  #schedule(): void {
    clearTimeout(this.#timer)
    if (!this.#unsubscribe) return
    this.#timer = setTimeout(() => void this.#rescan(), this.#pollMs * (0.75 + Math.random() / 2))
    this.#timer.unref()
  }
}
