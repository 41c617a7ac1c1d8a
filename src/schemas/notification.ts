import { Type, type Static } from '@sinclair/typebox'
import { PatchError, PatchRecord, PatchStatus } from './record.js'

const Time = Type.String({ format: 'date-time' })
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

export const NotificationState = Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')], {
  title: 'NotificationState',
  description: '`pending` until a 2xx answer (`delivered`) or the last attempt failed (`failed`)',
})
export type NotificationState = Static<typeof NotificationState>

/** One outbound notification of one status change to one configured destination. */
export const NotificationDelivery = Type.Object(
  {
    id: Type.String({ description: 'The `webhook-id` header of every attempt: receivers deduplicate by it' }),
    url: Type.String({ description: 'The destination, without credentials or query string' }),
    event: PatchStatus,
    state: NotificationState,
    attempts: Type.Integer({ minimum: 0 }),
    last_status: Nullable(Type.Integer({ description: 'HTTP status of the last answer' })),
    last_error: Nullable(Type.String()),
    next_attempt_at: Nullable(Time),
    created_at: Time,
    updated_at: Time,
  },
  { title: 'NotificationDelivery' },
)
export type NotificationDelivery = Static<typeof NotificationDelivery>

/** GET /patches/{id}: the record and where its notifications stand. */
export const PatchDetail = Type.Composite([PatchRecord, Type.Object({ notifications: Type.Array(NotificationDelivery) })], { title: 'PatchDetail' })
export type PatchDetail = Static<typeof PatchDetail>

/** The JSON body POSTed to a destination, signed with Standard Webhooks headers. */
export const NotificationPayload = Type.Object(
  {
    type: Type.String({ description: '`patch.` and the new status, e.g. `patch.applied`' }),
    timestamp: Time,
    data: Type.Object({
      id: Type.String(),
      client_id: Nullable(Type.String()),
      target: Type.String(),
      status: PatchStatus,
      reason: Type.String({ description: 'Reason code of the transition' }),
      detail: Nullable(Type.String()),
      commit: Nullable(Type.String()),
      tag: Nullable(Type.String()),
      error: Nullable(PatchError),
      links: Type.Object({ self: Type.String() }),
    }),
  },
  { title: 'NotificationPayload' },
)
export type NotificationPayload = Static<typeof NotificationPayload>
