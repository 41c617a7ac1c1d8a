import type { FastifyInstance, FastifyPluginOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { problems } from '../schemas/api.js'
import { PatchSummary } from '../schemas/record.js'
import { principalKey } from '../auth/principal.js'
import { canRead } from '../auth/rights.js'
import { ChangeFeed } from '../streams/change-feed.js'
import { StreamSlots, takeStreamSlot } from '../streams/stream-slots.js'
import { endStreamsOnClose, SseStream, startSse } from '../streams/sse-stream.js'

export interface AllEventsOptions extends FastifyPluginOptions {
  /** The slow safety rescan of the newest and running patches (see ChangeFeed). */
  pollMs?: number
  heartbeatMs?: number
  /** Shared with the per-patch streams, so the caps count every stream a caller holds. */
  slots?: StreamSlots
}

/** One message of the stream, as the per-patch stream's PatchStreamMessage models the SSE format. */
export const ChangeStreamMessage = Type.Object(
  {
    event: Type.Literal('patch'),
    data: Type.String({ contentMediaType: 'application/json', contentSchema: PatchSummary, description: 'A PatchSummary, as JSON' }),
  },
  { title: 'ChangeStreamMessage' },
)

/** One open stream of every change: written as changes come, ended when the client leaves or the server closes. */
class ChangeStream extends SseStream {
  push(summary: PatchSummary): void {
    this.write(`event: patch\ndata: ${JSON.stringify(summary)}\n\n`)
  }
}

const allEventsSchema = {
  operationId: 'streamAllEvents',
  summary: 'Follow every patch live (Server-Sent Events)',
  description:
    'Every patch change from the moment the stream opens, as `event: patch` with the patch summary after the change. Changes faster than reads may merge into one; never out of order per patch. No history, no resume. Capped with the per-patch streams (429, 503); a stalled reader is cut off at 1 MiB.',
  tags: ['patches'],
  security: [{ bearerAuth: [] }],
  response: {
    200: {
      description: 'The event stream',
      content: {
        'text/event-stream': {
          schema: Type.Array(ChangeStreamMessage, { description: 'The messages in order; comment lines (heartbeats) are not messages' }),
        },
      },
    },
    ...problems(401, 403),
    429: { ...problems(429)[429], description: 'Too many open event streams for this credential (code TOO_MANY_STREAMS), or too many failed authentications from this address (RATE_LIMITED); see Retry-After' },
    503: { ...problems(503)[503], description: 'The server holds as many event streams as it allows (code STREAMS_FULL); see Retry-After' },
  },
}

/**
 * `GET /events`: every patch change as it happens, for a page that shows the whole queue with
 * one stream instead of one per patch. Counted in the same per-credential and per-server caps
 * as the per-patch streams; fed by one shared ChangeFeed that reads each change once.
 */
export default async function allEventRoutes(fastify: FastifyInstance, opts: AllEventsOptions) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const heartbeatMs = opts.heartbeatMs ?? 15_000
  const slots = opts.slots ?? new StreamSlots({ perPrincipal: app.config.limits.streamsPerPrincipal, total: app.config.limits.streamsTotal })
  const feed = new ChangeFeed({ store: app.store, pollMs: opts.pollMs ?? 10_000, log: app.log.child({ component: 'change-streams' }) })
  const open = new Set<SseStream>()
  endStreamsOnClose(app, open, () => feed.close())

  app.get('/events', { onRequest: app.requireRight('read'), schema: allEventsSchema }, async (request, reply) => {
    const release = takeStreamSlot(slots, principalKey(request.principal!, request.ip), reply)
    let unsubscribe = () => {}
    const onEnd = () => {
      unsubscribe()
      release()
    }
    const stream = new ChangeStream(startSse(reply), { heartbeatMs, open, onEnd, log: request.log })
    if (stream.ended) return
    // Only what the credential may read, by the rule GET /patches/{id} applies.
    const principal = request.principal!
    unsubscribe = feed.subscribe((summary) => {
      if (canRead(principal, summary)) stream.push(summary)
    })
  })
}
