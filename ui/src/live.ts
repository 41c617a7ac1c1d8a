import { createParser } from 'eventsource-parser'
import { ApiError, request } from './api.js'

export type StreamState = 'connecting' | 'live' | 'lost' | 'ended'

export interface StreamHandlers {
  /** One Server-Sent Event. */
  onEvent(type: string, data: string): void
  /** Connected (again): anything shown may have missed changes while it was not. */
  onOpen?(): void
  /** The server ended the stream (a per-patch stream ends after a final status). */
  onEnd?(): void
  /** The server refused it for good (403, 404): not worth retrying. */
  onRefused?(err: ApiError): void
}

/** Quiet longer than this (the server's heartbeat is 15 s) means the connection is gone. */
const SILENCE_MS = 40_000
const MAX_BACKOFF_MS = 30_000

/** Every stream the page holds, for the banner that says whether the page is live. */
const streams = new Set<LiveStream>()
const watchers = new Set<() => void>()
const changed = () => {
  for (const watcher of [...watchers]) watcher()
}

export interface Liveness {
  state: 'connecting' | 'live' | 'lost'
  /** When the oldest lost stream lost its connection. */
  since: number | null
  /** When the next attempt is due. */
  retryAt: number | null
}

export function liveness(): Liveness {
  let lost: LiveStream | null = null
  let connecting = false
  for (const s of streams) {
    // A stream trying again after a loss is still lost until it is live.
    const isLost = s.lostAt !== null && (s.state === 'lost' || s.state === 'connecting')
    if (isLost && (lost === null || s.lostAt! < lost.lostAt!)) lost = s
    else if (s.state === 'connecting') connecting = true
  }
  if (lost) return { state: 'lost', since: lost.lostAt, retryAt: lost.retryAt }
  return { state: connecting ? 'connecting' : 'live', since: null, retryAt: null }
}

export function watchLiveness(watcher: () => void): () => void {
  watchers.add(watcher)
  return () => void watchers.delete(watcher)
}

/**
 * A Server-Sent Events stream read with fetch, because EventSource cannot send the bearer token
 * (and a token in the URL would end up in logs). Reconnects with jittered exponential backoff
 * (or the server's Retry-After), resumes after the last event id, and treats 40 s without a byte
 * as a dead connection.
 */
export class LiveStream {
  state: StreamState = 'connecting'
  lostAt: number | null = null
  retryAt: number | null = null
  #lastId: string | null = null
  #abort: AbortController | null = null
  #stopped = false
  #wake: (() => void) | null = null

  constructor(
    private readonly path: string,
    private readonly handlers: StreamHandlers,
  ) {
    streams.add(this)
    changed()
    void this.#run()
  }

  stop(): void {
    this.#stopped = true
    this.#abort?.abort()
    this.#wake?.()
    streams.delete(this)
    changed()
  }

  #set(state: StreamState): void {
    if (state === 'lost' && this.state !== 'lost') this.lostAt = Date.now()
    if (state === 'live') this.lostAt = null
    this.state = state
    if (state === 'ended') streams.delete(this)
    changed()
  }

  async #run(): Promise<void> {
    let attempt = 0
    while (!this.#stopped) {
      let retryAfterS: number | undefined
      const abort = (this.#abort = new AbortController())
      let silence: ReturnType<typeof setTimeout> | undefined
      const watch = () => {
        clearTimeout(silence)
        silence = setTimeout(() => abort.abort(), SILENCE_MS)
      }
      try {
        const headers: Record<string, string> = this.#lastId === null ? {} : { 'last-event-id': this.#lastId }
        watch()
        const res = await request(this.path, { accept: 'text/event-stream', headers, signal: abort.signal })
        attempt = 0
        this.retryAt = null
        this.#set('live')
        this.handlers.onOpen?.()
        const parser = createParser({
          onEvent: (event) => {
            if (event.id !== undefined) this.#lastId = event.id
            this.handlers.onEvent(event.event ?? 'message', event.data)
          },
        })
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          watch()
          parser.feed(value)
        }
        clearTimeout(silence)
        if (this.#stopped) return
        if (this.handlers.onEnd) {
          this.#set('ended')
          this.handlers.onEnd()
          return
        }
      } catch (err) {
        clearTimeout(silence)
        if (this.#stopped) return
        if (err instanceof ApiError) {
          if (err.status === 401 || err.status === 403 || err.status === 404) {
            this.#set('ended')
            if (err.status !== 401) this.handlers.onRefused?.(err)
            return
          }
          retryAfterS = err.retryAfter
        }
      }
      if (this.#stopped) return
      const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** attempt++) * (0.5 + Math.random() / 2)
      const delay = retryAfterS !== undefined ? retryAfterS * 1000 : backoff
      this.retryAt = Date.now() + delay
      this.#set('lost')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = null
      if (!this.#stopped) this.#set('connecting')
    }
  }
}
