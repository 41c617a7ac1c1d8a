// What every Server-Sent Events route of the service answers with.

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // nginx buffers responses by default, which would hold events back until the stream ends.
  'x-accel-buffering': 'no',
}

/** Seconds a refused stream is told to wait: streams last minutes, a slot rarely frees at once. */
export const RETRY_AFTER_S = 5

/** What an event stream may hold for a client that does not read before it is cut off. */
export const MAX_BUFFERED_BYTES = 1024 * 1024
