import type { PatchFormat } from '../../schemas/patch.js'
import type { PatchRecord, PatchStatus } from '../../schemas/record.js'
import { rowMappers, type CountColumns, type EventColumns, type RunnerColumns } from '../adapter/rows.js'

// Column shapes as better-sqlite3 returns them: the storage side of the mapping, not a second
// domain model. Times are epoch ms, JSON columns are text.
export interface PatchRow {
  id: string
  seq: number
  target: string
  lane_seq: number
  status: PatchStatus
  client_id: string | null
  format: PatchFormat
  description: string
  idempotency_key: string | null
  body_hash: string
  payload: string
  attempts: number
  lease_token: number | null
  lease_owner: string | null
  lease_expires_at: number | null
  result: string | null
  error: string | null
  created_at: number
  updated_at: number
  started_at: number | null
  finished_at: number | null
  submitted_by: string | null
  cancelled_by: string | null
}

export type SummaryRow = Omit<PatchRow, 'payload' | 'result'>

export type EventRow = EventColumns

export type RunnerRow = RunnerColumns<number, string>
export type CountRow = CountColumns<number>

/** better-sqlite3 hands times over as the epoch ms they were stored as, JSON columns as text. */
export const mappers = rowMappers<number, string>({ ms: (ms) => ms, json: (text) => JSON.parse(text) })
export const { toSummary, toRunner, toCounts } = mappers
export const toRecord = (row: PatchRow, events: EventRow[]): PatchRecord => mappers.toRecord(row, row.payload, events)
