import { Type, type Static } from '@sinclair/typebox'
import { PatchEvent, PatchRecord, PatchSummary } from '../../schemas/record.js'
import type { RunnerInfo } from '../port/registry.js'
import { rowMappers, type CountColumns } from '../adapter/rows.js'
import { eventsColumn } from './events.js'

// Row shapes as the driver returns them, derived from the record schemas: the only difference
// is that timestamptz columns arrive as Date and event times as epoch ms.
const Instant = Type.Date()
const MaybeInstant = Type.Union([Type.Date(), Type.Null()])
const TIME_KEYS = ['created_at', 'updated_at', 'started_at', 'finished_at'] as const

export const SummaryRow = Type.Composite([
  Type.Omit(PatchSummary, TIME_KEYS),
  Type.Object({ seq: Type.Integer(), created_at: Instant, updated_at: Instant, started_at: MaybeInstant, finished_at: MaybeInstant }),
])
export type SummaryRow = Static<typeof SummaryRow>

export const EventRow = Type.Composite([Type.Omit(PatchEvent, ['at']), Type.Object({ at: Type.Integer({ description: 'epoch ms' }) })])
export type EventRow = Static<typeof EventRow>

export const PatchRow = Type.Composite([SummaryRow, Type.Pick(PatchRecord, ['patch', 'result']), Type.Object({ events: Type.Array(EventRow) })])
export type PatchRow = Static<typeof PatchRow>

export const ClaimRow = Type.Composite([PatchRow, Type.Object({ lease_token: Type.Integer(), lease_expires_at: Instant })])
export type ClaimRow = Static<typeof ClaimRow>
/** A claim statement's row: the patch it claimed, or only the id it picked and lost to a race. */
export type ClaimAttemptRow = { picked: string } & (ClaimRow | { [K in keyof ClaimRow]: null })

export type RunnerRow = Omit<RunnerInfo, 'started_at' | 'last_seen'> & { started_at: Date; last_seen: Date }
export type CountRow = CountColumns<Date>

/** Columns of a summary row, for `SELECT` lists; `p` is the patches alias. */
export const summaryColumns = (p: string) =>
  ['id', 'seq', 'client_id', 'target', 'format', 'status', 'description', 'attempts', 'error', 'submitted_by', 'cancelled_by', ...TIME_KEYS]
    .map((c) => `${p}.${c}`)
    .join(', ')

/** Every column a record needs; `p` is the patches alias. */
export const recordColumns = (s: string, p: string) => `${summaryColumns(p)}, ${p}.patch, ${p}.result, ${eventsColumn(s, `${p}.id`)}`

/** The pg driver hands timestamptz columns over as Date and json/jsonb columns already parsed. */
export const mappers = rowMappers<Date, unknown>({ ms: (d) => d.getTime(), json: (v) => v })
export const { toSummary, toRunner, toCounts } = mappers
export const toRecord = (row: PatchRow): PatchRecord => mappers.toRecord(row, row.patch, row.events)

/**
 * Postgres text cannot hold NUL, which JSON strings can; such a character in a text column
 * (a description, an error message with process output) becomes U+FFFD rather than failing
 * the whole operation. json columns keep the original, escaped.
 */
export const pgText = <T extends string | null>(value: T): T => (value === null ? value : (value.replaceAll('\u0000', '\uFFFD') as T))

/** A time parameter: the caller's clock when given, else the statement's time on the server. */
export const instantParam = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString())
