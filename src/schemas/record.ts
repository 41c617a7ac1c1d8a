import { Type, type Static } from '@sinclair/typebox'
import { NormalizedPatch, PatchFormat } from './patch.js'

export const PatchStatus = Type.Union(
  ['queued', 'running', 'applied', 'failed', 'rejected', 'cancelled'].map((s) => Type.Literal(s)) as [
    ReturnType<typeof Type.Literal<'queued'>>,
    ReturnType<typeof Type.Literal<'running'>>,
    ReturnType<typeof Type.Literal<'applied'>>,
    ReturnType<typeof Type.Literal<'failed'>>,
    ReturnType<typeof Type.Literal<'rejected'>>,
    ReturnType<typeof Type.Literal<'cancelled'>>,
  ],
  { title: 'PatchStatus' },
)
export type PatchStatus = Static<typeof PatchStatus>
export const FINAL_STATUSES: readonly PatchStatus[] = ['applied', 'failed', 'rejected', 'cancelled']

const Time = Type.String({ format: 'date-time' })
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

export const PatchEvent = Type.Object(
  {
    at: Time,
    status: PatchStatus,
    reason: Type.String({ description: 'Stable reason code for the transition' }),
    detail: Nullable(Type.String()),
  },
  { title: 'PatchEvent' },
)
export type PatchEvent = Static<typeof PatchEvent>

export const CheckResult = Type.Object({
  name: Type.String(),
  argv: Type.Array(Type.String()),
  exit_code: Nullable(Type.Integer()),
  signal: Nullable(Type.String()),
  timed_out: Type.Boolean(),
  duration_ms: Type.Number(),
  output_tail: Type.String(),
})
export type CheckResult = Static<typeof CheckResult>

export const FileStat = Type.Object({
  path: Type.String(),
  change: Type.Union([Type.Literal('added'), Type.Literal('modified'), Type.Literal('deleted'), Type.Literal('renamed')]),
  from: Type.Optional(Type.String()),
  added: Type.Integer(),
  removed: Type.Integer(),
})
export type FileStat = Static<typeof FileStat>

export const PatchResult = Type.Object(
  {
    commit: Nullable(Type.String()),
    tag: Nullable(Type.String()),
    files: Type.Array(FileStat),
    checks: Type.Array(CheckResult),
    durations_ms: Type.Record(Type.String(), Type.Number()),
  },
  { title: 'PatchResult' },
)
export type PatchResult = Static<typeof PatchResult>

export const PatchError = Type.Object(
  {
    code: Type.String(),
    message: Type.String(),
    operation: Type.Optional(Type.Integer({ description: 'Index of the operation that failed' })),
    path: Type.Optional(Type.String()),
    detail: Type.Optional(Type.String({ description: 'The line, hunk or check output that failed' })),
  },
  { title: 'PatchError' },
)
export type PatchError = Static<typeof PatchError>

export const PatchRecord = Type.Object(
  {
    id: Type.String(),
    client_id: Nullable(Type.String()),
    target: Type.String(),
    format: PatchFormat,
    status: PatchStatus,
    description: Type.String(),
    attempts: Type.Integer(),
    created_at: Time,
    updated_at: Time,
    started_at: Nullable(Time),
    finished_at: Nullable(Time),
    patch: NormalizedPatch,
    result: Nullable(PatchResult),
    error: Nullable(PatchError),
    events: Type.Array(PatchEvent),
  },
  { title: 'PatchRecord' },
)
export type PatchRecord = Static<typeof PatchRecord>

/** The list view leaves out the payload and the event history. */
export const PatchSummary = Type.Omit(PatchRecord, ['patch', 'events', 'result'], { title: 'PatchSummary' })
export type PatchSummary = Static<typeof PatchSummary>
