import type { ServerResponse } from 'node:http'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify'
import { MAX_BUFFERED_BYTES, SSE_HEADERS } from './sse.js'

/** What every stream of a route shares: its heartbeat, and the set the route ends them from. */
export interface SseStreamOptions {
  /** Comment lines keep proxies and the server's idle-socket timeout from closing a quiet stream. */
  heartbeatMs: number
  /** The route's open streams: a stream is in it from its start until it ends. */
  open: Set<SseStream>
  /** Called once, when the stream ends for whatever reason: gives back what the stream held. */
  onEnd: () => void
  /** Where a client cut off for not reading is reported. */
  log: FastifyBaseLogger
  /** Bytes written but not yet taken by the client past which it is cut off (MAX_BUFFERED_BYTES). */
  maxBufferedBytes?: number
}

/**
 * Takes over the reply for an event stream: past this point the response is ours, and Fastify
 * neither serializes nor ends it. Headers set on the reply so far (rate limits) are kept.
 */
export function startSse(reply: FastifyReply): ServerResponse {
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...SSE_HEADERS })
  res.flushHeaders()
  return res
}

/**
 * One open Server-Sent Events response: heartbeats while it is quiet, and an end that comes
 * once, whether the client leaves, the route ends it, the server closes, or the client stops
 * reading. What a stream writes is its subclass's; a stream that has ended writes nothing.
 */
export class SseStream {
  #ended = false
  readonly #heartbeat: NodeJS.Timeout
  readonly #open: Set<SseStream>
  readonly #onEnd: () => void
  readonly #log: FastifyBaseLogger
  readonly #maxBuffered: number

  constructor(
    private readonly res: ServerResponse,
    { heartbeatMs, open, onEnd, log, maxBufferedBytes = MAX_BUFFERED_BYTES }: SseStreamOptions,
  ) {
    this.#open = open
    this.#onEnd = onEnd
    this.#log = log
    this.#maxBuffered = maxBufferedBytes
    this.#heartbeat = setInterval(() => this.write(': heartbeat\n\n'), heartbeatMs)
    this.#heartbeat.unref()
    res.on('close', () => this.end())
    // The client may have gone already; 'close' has fired then.
    if (res.destroyed) this.end()
    else open.add(this)
  }

  get ended(): boolean {
    return this.#ended
  }

  protected write(text: string): void {
    if (this.#ended) return
    this.res.write(text)
    // What the socket has not taken waits in this process: a client that stops reading (or reads
    // slower than events come) would make it hold every event from then on. Past the cap the
    // client is cut off; it reconnects, and a per-patch stream resumes with Last-Event-ID.
    if (this.res.writableLength > this.#maxBuffered) {
      this.#log.warn({ buffered: this.res.writableLength }, 'event stream closed: its client is not reading')
      this.res.destroy()
      this.end()
    }
  }

  end(): void {
    if (this.#ended) return
    this.#ended = true
    clearInterval(this.#heartbeat)
    this.#open.delete(this)
    this.#onEnd()
    this.res.end()
  }
}

/**
 * Ends a route's open streams when the server closes, then its feed: a stream may never end by
 * itself, so without this the server's close would wait on every follower.
 */
export function endStreamsOnClose(app: FastifyInstance, open: Set<SseStream>, closeFeed: () => void): void {
  app.addHook('preClose', async () => {
    for (const stream of open) stream.end()
    closeFeed()
  })
}
