import pg from 'pg'
import type { StoreLogger } from '../logger.js'

/**
 * Called with the target of a patch just queued, or with null when notifications may have been
 * missed (the listening connection was (re)established): then every lane is worth a look.
 */
export type PatchQueuedListener = (target: string | null) => void

/** Called with a notification's payload, or with null when notifications may have been missed. */
export type ChannelListener = (payload: string | null) => void

const MIN_RETRY_MS = 100
const MAX_RETRY_MS = 5_000

/**
 * One dedicated connection LISTENing on the store's channels while anyone subscribes. Pooled
 * connections cannot listen: LISTEN belongs to a session, and the pool hands sessions around.
 * A lost connection is re-established with capped, jittered backoff; wake-ups are a latency
 * optimisation only, so runners and event streams keep polling (slowly) whatever state this is in.
 */
export class PatchSubscriber {
  private readonly listeners = new Map<string, Set<ChannelListener>>()
  private client: pg.Client | null = null
  private retry: NodeJS.Timeout | null = null
  private failures = 0
  private active = false
  private live = false

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channels: readonly string[],
    private readonly logger?: StoreLogger,
  ) {
    for (const channel of channels) this.listeners.set(channel, new Set())
  }

  /** True while a connection is LISTENing. */
  get listening(): boolean {
    return this.live
  }

  /** Listens on `channel` (one of those given at construction). Returns the unsubscribe function. */
  subscribe(channel: string, listener: ChannelListener): () => void {
    const set = this.listeners.get(channel)
    if (!set) throw new Error(`not a channel of this subscriber: ${channel}`)
    set.add(listener)
    if (!this.active) {
      this.active = true
      void this.connect()
    }
    return () => {
      if (set.delete(listener) && this.subscribers() === 0) void this.stop()
    }
  }

  private subscribers(): number {
    let n = 0
    for (const set of this.listeners.values()) n += set.size
    return n
  }

  async stop(): Promise<void> {
    this.active = false
    this.live = false
    if (this.retry) clearTimeout(this.retry)
    this.retry = null
    const client = this.client
    this.client = null
    if (client) await client.end().catch(() => undefined)
  }

  private async connect(): Promise<void> {
    if (!this.active || this.client) return
    const client = new pg.Client(this.config)
    this.client = client
    client.on('error', (err) => this.lost(client, err))
    client.on('end', () => this.lost(client, new Error('listening connection closed')))
    client.on('notification', (msg) => {
      if (this.client === client) this.emit(msg.channel, msg.payload ?? null)
    })
    try {
      await client.connect()
      for (const channel of this.channels) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
    } catch (err) {
      this.lost(client, err)
      return
    }
    if (this.client !== client) return
    this.live = true
    if (this.failures > 0) this.logger?.info({ channels: this.channels }, 'patch notifications listening again')
    this.failures = 0
    for (const channel of this.channels) this.emit(channel, null)
  }

  private lost(client: pg.Client, err: unknown): void {
    if (this.client !== client) return
    this.client = null
    this.live = false
    void client.end().catch(() => undefined)
    if (!this.active) return
    const delay = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** this.failures) * (0.5 + Math.random() / 2)
    this.failures += 1
    this.logger?.warn({ err, channels: this.channels, retryInMs: Math.round(delay) }, 'patch notification connection lost; runners fall back to polling')
    this.retry = setTimeout(() => {
      this.retry = null
      void this.connect()
    }, delay)
    this.retry.unref()
  }

  private emit(channel: string, payload: string | null): void {
    for (const listener of this.listeners.get(channel) ?? []) {
      try {
        listener(payload)
      } catch (err) {
        this.logger?.error({ err, channel }, 'notification listener threw')
      }
    }
  }
}
