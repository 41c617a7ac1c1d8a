import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyPluginOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Errors } from '../errors.js'
import { PatchId, problem, problems } from '../schemas/api.js'
import { FINAL_STATUSES, type PatchRecord } from '../schemas/record.js'
import { PatchStreamMessage, type PatchStreamEvent } from '../schemas/patch-stream.js'
import { endStreamsOnClose, SseStream, startSse, type SseStreamOptions } from '../streams/sse-stream.js'
import { storeError } from '../ingest/store-errors.js'
import { principalKey } from '../auth/principal.js'
import { canRead } from '../auth/rights.js'
import { PatchFeed } from '../streams/patch-feed.js'
import { StreamSlots, takeStreamSlot } from '../streams/stream-slots.js'

export interface EventStreamOptions extends FastifyPluginOptions {
  /**
   * The slow safety read of each followed patch. Streams are fed by the store's change
   * notifications; this only bounds how late a lost notification is made up for.
   */
  pollMs?: number
  /** Comment lines keep proxies and the server's idle-socket timeout from closing a quiet stream. */
  heartbeatMs?: number
  /** Shared with the other event-stream routes, so the caps count every stream a caller holds. */
  slots?: StreamSlots
}

const isFinal = (status: PatchRecord['status']) => FINAL_STATUSES.includes(status)

/** Formats one history row as an SSE message; the event id is its 1-based sequence number. */
function sseMessage(record: PatchRecord, index: number): string {
  const data: PatchStreamEvent = { id: record.id, target: record.target, seq: index + 1, ...record.events[index]! }
  return `event: status\nid: ${index + 1}\ndata: ${JSON.stringify(data)}\n\n`
}

/**
 * One open stream: writes what its client has not seen of each record handed to it, in order
 * and once, and ends after a final status, when the client leaves, or when told to.
 */
class PatchEventStream extends SseStream {
  #sent: number

  constructor(
    res: ServerResponse,
    options: SseStreamOptions,
    /** The highest event seq the client already has (Last-Event-ID). */
    after: number,
  ) {
    super(res, options)
    this.#sent = after
  }

  /** Writes the events of `record` after the last one sent; ends the stream once the patch is final. */
  push(record: PatchRecord): void {
    if (this.ended) return
    let out = ''
    for (let i = this.#sent; i < record.events.length; i++) out += sseMessage(record, i)
    if (out) this.write(out)
    this.#sent = Math.max(this.#sent, record.events.length)
    if (isFinal(record.status)) this.end()
  }
}

/**
 * Follows a patch before its first read, so that a change committed after that read is always
 * delivered; what arrives before the stream exists is kept (the newest record wins) for
 * `attach` to hand on.
 */
function followEarly(feed: PatchFeed, id: string) {
  let stream: PatchEventStream | null = null
  let early: PatchRecord | null = null
  const unfollow = feed.follow(id, (record) => {
    if (stream) stream.push(record)
    else if (!early || record.events.length > early.events.length) early = record
  })
  const attach = (opened: PatchEventStream, first: PatchRecord) => {
    stream = opened
    opened.push(first)
    if (early) opened.push(early)
  }
  return { unfollow, attach }
}

const patchEventsSchema = {
  operationId: 'streamPatchEvents',
  summary: 'Follow a patch live (Server-Sent Events)',
  description:
    'Server-Sent Events: the patch\'s history (or the events after Last-Event-ID), then each change; closes after a final status. Each message is `event: status`, `id: <seq>`, `data: <PatchStreamEvent>`. Streams are capped per credential (429) and server (503). Needs the read right.',
  tags: ['patches'],
  security: [{ bearerAuth: [] }],
  params: Type.Object({ id: PatchId }),
  headers: Type.Object({
    'last-event-id': Type.Optional(
      Type.String({ pattern: '^[0-9]{1,9}$', description: 'Resume after this event id (the `seq` of the last event received)' }),
    ),
  }),
  response: {
    200: {
      description: 'The event stream',
      content: {
        'text/event-stream': {
          schema: Type.Array(PatchStreamMessage, { description: 'The messages in order; comment lines (heartbeats) are not messages' }),
        },
      },
    },
    ...problems(400, 401, 403, 404),
    429: problem(429, 'Too many open event streams for this credential (code TOO_MANY_STREAMS), or too many failed authentications from this address (RATE_LIMITED); see Retry-After'),
    503: problem(503, 'The server holds as many event streams as it allows (code STREAMS_FULL), the store is unavailable (STORE_UNAVAILABLE) or shutting down (SHUTTING_DOWN); see Retry-After'),
  },
}

/**
 * `GET /patches/{id}/events`: a patch's history, then its status changes live, as Server-Sent
 * Events. Streams are capped per principal and in all; they are fed by the store's change
 * notifications through one shared feed, which reads a patch once per change however many
 * streams follow it.
 */
export default async function eventRoutes(fastify: FastifyInstance, opts: EventStreamOptions) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const heartbeatMs = opts.heartbeatMs ?? 15_000
  const slots = opts.slots ?? new StreamSlots({ perPrincipal: app.config.limits.streamsPerPrincipal, total: app.config.limits.streamsTotal })
  const feed = new PatchFeed({ store: app.store, pollMs: opts.pollMs ?? 10_000, log: app.log.child({ component: 'event-streams' }) })
  const open = new Set<SseStream>()
  endStreamsOnClose(app, open, () => feed.close())

  app.get('/patches/:id/events', { onRequest: app.requireRight('read'), schema: patchEventsSchema }, async (request, reply) => {
    const { id } = request.params
    const log = request.log.child({ patch: id })
    const release = takeStreamSlot(slots, principalKey(request.principal!, request.ip), reply)
    let following: ReturnType<typeof followEarly>
    try {
      following = followEarly(feed, id)
    } catch (err) {
      // Following subscribes to the store's change notifications: a store that cannot is a 503.
      release()
      throw storeError(err, log)
    }
    const done = () => {
      following.unfollow()
      release()
    }
    let first: PatchRecord | null
    try {
      first = await app.store.get(id)
    } catch (err) {
      done()
      throw storeError(err, log)
    }
    if (!first || !canRead(request.principal!, first)) {
      done()
      throw new Errors.NOT_FOUND(`No patch ${id}`)
    }
    const stream = new PatchEventStream(startSse(reply), { heartbeatMs, open, onEnd: done, log }, Number(request.headers['last-event-id'] ?? 0))
    following.attach(stream, first)
  })
}
