import { Type, type Static } from '@sinclair/typebox'

/** One workspace's lane: what waits and runs in it. */
export const Queue = Type.Object(
  {
    target: Type.String({ description: 'Workspace name' }),
    queued: Type.Integer({ minimum: 0 }),
    running: Type.Integer({ minimum: 0 }),
    oldest_queued_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the oldest queued patch was accepted' }),
    configured: Type.Boolean({ description: "The workspace is in this server's configuration (a lane can outlive its workspace)" }),
  },
  { title: 'Queue' },
)
export type Queue = Static<typeof Queue>

export const Queues = Type.Object({ items: Type.Array(Queue) }, { title: 'Queues' })
export type Queues = Static<typeof Queues>
