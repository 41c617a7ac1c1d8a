import type { NormalizedPatch, PatchFormat } from '../../schemas/patch.js'
import type { PatchError, PatchEvent, PatchRecord, PatchResult, PatchStatus, PatchSummary } from '../../schemas/record.js'
import type { RunnerInfo, TargetCounts } from '../port.js'

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
}

export type SummaryRow = Omit<PatchRow, 'payload' | 'result'>

export interface EventRow {
  at: number
  status: PatchStatus
  reason: string
  detail: string | null
}

export interface RunnerRow {
  id: string
  host: string
  pid: number
  started_at: number
  last_seen: number
  info: string
}

export interface CountRow {
  target: string
  queued: number
  running: number
  oldest_queued_at: number | null
}

const iso = (ms: number): string => new Date(ms).toISOString()
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms))

export function toSummary(row: SummaryRow): PatchSummary {
  return {
    id: row.id,
    client_id: row.client_id,
    target: row.target,
    format: row.format,
    status: row.status,
    description: row.description,
    attempts: row.attempts,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    started_at: isoOrNull(row.started_at),
    finished_at: isoOrNull(row.finished_at),
    error: row.error === null ? null : (JSON.parse(row.error) as PatchError),
  }
}

export function toRecord(row: PatchRow, events: EventRow[]): PatchRecord {
  return {
    ...toSummary(row),
    patch: JSON.parse(row.payload) as NormalizedPatch,
    result: row.result === null ? null : (JSON.parse(row.result) as PatchResult),
    events: events.map(toEvent),
  }
}

function toEvent(row: EventRow): PatchEvent {
  return { at: iso(row.at), status: row.status, reason: row.reason, detail: row.detail }
}

export function toRunner(row: RunnerRow): RunnerInfo {
  return {
    id: row.id,
    host: row.host,
    pid: row.pid,
    started_at: iso(row.started_at),
    last_seen: iso(row.last_seen),
    info: JSON.parse(row.info) as Record<string, unknown>,
  }
}

export function toCounts(row: CountRow): TargetCounts {
  return { target: row.target, queued: row.queued, running: row.running, oldest_queued_at: row.oldest_queued_at }
}
