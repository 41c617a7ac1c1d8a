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
}, { title: 'CheckResult' })
export type CheckResult = Static<typeof CheckResult>

export const FileStat = Type.Object({
  path: Type.String(),
  change: Type.Union([Type.Literal('added'), Type.Literal('modified'), Type.Literal('deleted'), Type.Literal('renamed')]),
  from: Type.Optional(Type.String()),
  added: Type.Integer(),
  removed: Type.Integer(),
}, { title: 'FileStat' })
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

/** Lines of a file as the failing operation saw it, shown so a rejected patch can be corrected. */
export const MatchRegion = Type.Object(
  {
    start_line: Type.Integer({ minimum: 1, description: 'First line of the region (1-based)' }),
    end_line: Type.Integer({ minimum: 1, description: 'Last line of the region (1-based, inclusive)' }),
    similarity: Type.Number({ minimum: 0, maximum: 1, description: 'How closely the region matches the text the patch looked for: 1 is identical' }),
    lines: Type.Array(Type.String(), { description: 'The actual lines from start_line, without line endings; long lines and long regions are cut short' }),
  },
  {
    title: 'MatchRegion',
    description: 'A region of the actual file: the closest to text that was not found, or one of the places text was found more than once',
  },
)
export type MatchRegion = Static<typeof MatchRegion>

export const PatchError = Type.Object(
  {
    code: Type.String(),
    message: Type.String(),
    operation: Type.Optional(Type.Integer({ description: 'Index of the operation that failed' })),
    path: Type.Optional(Type.String()),
    detail: Type.Optional(Type.String({ description: 'The line, hunk or check output that failed' })),
    candidates: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1 }), { description: 'AMBIGUOUS_MATCH: the first line of each place the text matched (the first 20)' }),
    ),
    regions: Type.Optional(
      Type.Array(MatchRegion, { description: 'CONTEXT_NOT_FOUND: the closest regions of the file, best first; AMBIGUOUS_MATCH: the first candidates with lines around them' }),
    ),
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
    submitted_by: Nullable(
      Type.String({ description: 'Name of the credential that submitted the patch (`anonymous` on a server without credentials; null for patches stored before names were recorded)' }),
    ),
    cancelled_by: Nullable(Type.String({ description: 'Name of the credential that cancelled the patch; null unless cancelled through the API' })),
  },
  { title: 'PatchRecord' },
)
export type PatchRecord = Static<typeof PatchRecord>

/** The list view leaves out the payload and the event history. */
export const PatchSummary = Type.Omit(PatchRecord, ['patch', 'events', 'result'], { title: 'PatchSummary' })
export type PatchSummary = Static<typeof PatchSummary>
