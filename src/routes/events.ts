import type { ServerResponse } from 'node:http'
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@sinclair/typebox'
import { Errors } from '../errors.js'
import { PatchId, problems } from '../schemas/api.js'
import { FINAL_STATUSES, PatchEvent, type PatchRecord } from '../schemas/record.js'
import { storeUnavailable } from '../ingest/store-errors.js'

/** The `data` of each `status` event: one audit-trail row, with the patch it belongs to. */
export const PatchStreamEvent = Type.Composite(
  [
    Type.Object({
      id: Type.String({ description: 'Patch id' }),
      target: Type.String(),
      seq: Type.Integer({ minimum: 1, description: 'Position in the patch history; also the SSE event id' }),
    }),
    PatchEvent,
  ],
  { title: 'PatchStreamEvent' },
)
export type PatchStreamEvent = Static<typeof PatchStreamEvent>

export interface EventStreamOptions extends FastifyPluginOptions {
  /** How often each stream reads the store; the store is the only channel shared with runners in other processes. */
  pollMs?: number
  /** Comment lines keep proxies and the server's idle-socket timeout from closing a quiet stream. */
  heartbeatMs?: number
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // nginx buffers responses by default, which would hold events back until the stream ends.
  'x-accel-buffering': 'no',
}

const isFinal = (status: PatchRecord['status']) => FINAL_STATUSES.includes(status)

/** Formats one history row as an SSE message; the event id is its 1-based sequence number. */
function sseMessage(record: PatchRecord, index: number): string {
  const data: PatchStreamEvent = { id: record.id, target: record.target, seq: index + 1, ...record.events[index]! }
  return `event: status\nid: ${index + 1}\ndata: ${JSON.stringify(data)}\n\n`
}

interface StreamOptions {
  res: ServerResponse
  /** The highest event seq the client already has (Last-Event-ID). */
  after: number
  read: () => Promise<PatchRecord | null>
  pollMs: number
  heartbeatMs: number
  log: FastifyBaseLogger
}

/**
 * Streams a patch's events from `first` on until the patch is final or the client leaves.
 * Returns the function that ends the stream, which the caller also keeps for shutdown.
 */
function startStream(first: PatchRecord, { res, after, read, pollMs, heartbeatMs, log }: StreamOptions): () => void {
  let sent = after
  let ended = false
  let failing = false
  let poll: NodeJS.Timeout | undefined
  const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs)
  heartbeat.unref()

  const end = () => {
    if (ended) return
    ended = true
    clearTimeout(poll)
    clearInterval(heartbeat)
    res.end()
  }
  /** Writes what the client has not seen yet; true once the patch is final and fully sent. */
  const push = (record: PatchRecord): boolean => {
    let out = ''
    for (let i = sent; i < record.events.length; i++) out += sseMessage(record, i)
    if (out) res.write(out)
    sent = Math.max(sent, record.events.length)
    return isFinal(record.status)
  }
  const schedule = () => {
    poll = setTimeout(tick, pollMs)
    poll.unref()
  }
  const tick = async () => {
    let record: PatchRecord | null
    try {
      record = await read()
      failing = false
    } catch (err) {
      // Keep following: a store blip must not end every open stream. Logged once per outage.
      if (!failing) log.warn({ err }, 'event stream could not read the store; retrying')
      failing = true
      if (!ended) schedule()
      return
    }
    if (ended) return
    if (!record || push(record)) return end()
    schedule()
  }

  res.on('close', end)
  // The client may have gone while the first read was in flight; 'close' has fired already then.
  if (res.destroyed || push(first)) end()
  else schedule()
  return end
}

/** `GET /patches/{id}/events`: a patch's history, then its status changes live, as Server-Sent Events. */
export default async function eventRoutes(fastify: FastifyInstance, opts: EventStreamOptions) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const pollMs = opts.pollMs ?? 250
  const heartbeatMs = opts.heartbeatMs ?? 15_000
  // A stream never ends by itself before its patch is final, so without this the server's close
  // would wait on every follower.
  const open = new Set<() => void>()
  app.addHook('preClose', async () => {
    for (const end of open) end()
  })

  app.get(
    '/patches/:id/events',
    {
      preValidation: app.authenticate,
      schema: {
        operationId: 'streamPatchEvents',
        summary: 'Follow a patch live (Server-Sent Events)',
        description:
          'A `text/event-stream` of the patch\'s status changes: first its whole history (or only the events after `Last-Event-ID`), then each new change as it happens; the stream closes after a final status (applied, failed, rejected, cancelled). Each message is `event: status`, `id: <seq>` and `data:` a JSON object `{id, target, seq, at, status, reason, detail}`; comment lines are heartbeats. Clients should stop reconnecting once they have seen a final status.',
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
            content: { 'text/event-stream': { schema: Type.String({ description: 'Server-Sent Events; each `data` is a PatchStreamEvent' }) } },
          },
          ...problems(400, 401, 404, 503),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      const log = request.log.child({ patch: id })
      let first: PatchRecord | null
      try {
        first = await app.store.get(id)
      } catch (err) {
        throw storeUnavailable(err, log)
      }
      if (!first) throw new Errors.NOT_FOUND(`No patch ${id}`)

      // Past this point the response is ours: Fastify neither serializes nor ends it.
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...SSE_HEADERS })
      res.flushHeaders()
      const end = startStream(first, {
        res,
        after: Number(request.headers['last-event-id'] ?? 0),
        read: () => app.store.get(id),
        pollMs,
        heartbeatMs,
        log,
      })
      if (res.writableEnded) return
      open.add(end)
      res.on('close', () => open.delete(end))
    },
  )
}
