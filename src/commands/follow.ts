import { setTimeout as sleep } from 'node:timers/promises'
import { FINAL_STATUSES, type PatchRecord } from '../schemas/record.js'
import type { PatchStreamEvent } from '../schemas/patch-stream.js'
import { ConnectionError, ProblemError, problemOf, type ApiClient } from './http-client.js'

export interface FollowOptions {
  /** Called once per status change, in order, whichever channel delivered it. */
  onEvent: (event: PatchStreamEvent) => void
  signal?: AbortSignal
  pollMs?: number
}

interface SseMessage {
  event: string
  id: string | null
  data: string
}

/** Server-Sent Events from a response body, message by message (WHATWG parsing rules, minus `retry`). */
async function* sseMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  let buffer = ''
  let msg: SseMessage = { event: 'message', id: null, data: '' }
  let hasData = false
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    buffer += chunk
    let nl: number
    while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1))
      if (line === '') {
        if (hasData) yield msg
        msg = { event: 'message', id: msg.id, data: '' }
        hasData = false
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'event') msg.event = value
      else if (field === 'id') msg.id = value
      else if (field === 'data') {
        msg.data = hasData ? `${msg.data}\n${value}` : value
        hasData = true
      }
    }
  }
}

const isFinal = (status: PatchRecord['status']) => FINAL_STATUSES.includes(status)

/**
 * Follows a patch until it reaches a final status and resolves to its final record. Listens on
 * the SSE route, resuming with Last-Event-ID when the stream breaks, and falls back to polling
 * GET /patches/{id} when the server has no such route or the stream keeps failing.
 */
export async function followPatch(client: ApiClient, id: string, opts: FollowOptions): Promise<PatchRecord> {
  const path = `/patches/${encodeURIComponent(id)}`
  let seen = 0
  const deliver = (event: PatchStreamEvent) => {
    if (event.seq <= seen) return
    seen = event.seq
    opts.onEvent(event)
  }

  let breaks = 0
  while (breaks < 5) {
    let res: Response
    try {
      res = await client.send('GET', `${path}/events`, { headers: { accept: 'text/event-stream', 'last-event-id': String(seen) }, signal: opts.signal })
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err
      breaks++
      await sleep(200 * 2 ** breaks, undefined, { signal: opts.signal })
      continue
    }
    if (!res.ok) {
      const problem = await problemOf(res)
      // An older server (or a proxy) without the route: polling still works.
      if (problem.code === 'ROUTE_NOT_FOUND' || res.status === 405 || res.status === 406 || (res.status === 404 && problem.code !== 'NOT_FOUND')) break
      throw new ProblemError(problem)
    }
    if (!/^text\/event-stream/.test(res.headers.get('content-type') ?? '') || !res.body) {
      await res.body?.cancel()
      break
    }
    let final = false
    try {
      for await (const msg of sseMessages(res.body)) {
        if (msg.event !== 'status') continue
        const event = JSON.parse(msg.data) as PatchStreamEvent
        deliver(event)
        if (isFinal(event.status)) final = true
      }
    } catch (err) {
      if (opts.signal?.aborted) throw err
      // The connection broke mid-stream (a restart, a proxy timeout): resume where it stopped.
    }
    if (final) return (await client.json<PatchRecord>('GET', path, { signal: opts.signal })).body
    breaks++
    await sleep(100 * breaks, undefined, { signal: opts.signal })
  }
  return pollPatch(client, path, deliver, opts)
}

async function pollPatch(client: ApiClient, path: string, deliver: (e: PatchStreamEvent) => void, opts: FollowOptions): Promise<PatchRecord> {
  for (;;) {
    const { body: record } = await client.json<PatchRecord>('GET', path, { signal: opts.signal })
    record.events.forEach((e, i) => deliver({ id: record.id, target: record.target, seq: i + 1, ...e }))
    if (isFinal(record.status)) return record
    await sleep(opts.pollMs ?? 500, undefined, { signal: opts.signal })
  }
}
