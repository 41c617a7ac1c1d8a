import type { NotificationDelivery } from '../../schemas/notification.js'
import type { NormalizedPatch } from '../../schemas/patch.js'
import type { PatchError, PatchEvent, PatchRecord, PatchResult, PatchSummary } from '../../schemas/record.js'
import type { DeliveryJob } from '../port/outbox.js'
import type { EnqueueInput, TargetCounts } from '../port/queue.js'
import type { RunnerInfo } from '../port/registry.js'

// The mapping from stored rows to records, written once for both stores. Their rows differ in
// two kinds of column only: an instant (PostgreSQL: Date, SQLite: epoch ms) and a JSON value
// (PostgreSQL: already parsed, SQLite: text). Each store says how to read those two; the rest
// of the mapping, field by field, is here.

/** How one driver's columns read: an instant as epoch ms, a JSON column as the value it holds. */
export interface ColumnReader<Time, Json> {
  ms: (value: Time) => number
  json: (value: Json) => unknown
}

/** `R` as a row holds it: the `T` keys as instants, the `J` keys as JSON columns, null kept. */
type Stored<R, T extends keyof R, J extends keyof R, Time, Json> = Omit<R, T | J> & {
  [K in T]: null extends R[K] ? Time | null : Time
} & { [K in J]: null extends R[K] ? Json | null : Json }

export type SummaryColumns<Time, Json> = Stored<PatchSummary, 'created_at' | 'updated_at' | 'started_at' | 'finished_at', 'error', Time, Json>
export type RecordColumns<Time, Json> = SummaryColumns<Time, Json> & { result: Json | null }
/** An event as both stores hand it over: its time in epoch ms. */
export type EventColumns = Omit<PatchEvent, 'at'> & { at: number }
export type RunnerColumns<Time, Json> = Stored<RunnerInfo, 'started_at' | 'last_seen', 'info', Time, Json>
export type CountColumns<Time> = Stored<TargetCounts, 'oldest_queued_at', never, Time, never>
export type DeliveryColumns<Time> = Stored<NotificationDelivery, 'next_attempt_at' | 'created_at' | 'updated_at', never, Time, never>
/** A claimed delivery joined with its patch; the outbox calls the attempt count and status otherwise. */
export type JobColumns<Time, Json> = Omit<Stored<DeliveryJob, 'at', 'result' | 'error', Time, Json>, 'attempt' | 'status'> & {
  attempts: number
  event: DeliveryJob['status']
}

function toEvent(row: EventColumns): PatchEvent {
  return { at: new Date(row.at).toISOString(), status: row.status, reason: row.reason, detail: row.detail }
}

/** The conversions every mapper uses, from how the driver reads instants and JSON columns. */
function readers<Time, Json>(read: ColumnReader<Time, Json>) {
  const iso = (value: Time): string => new Date(read.ms(value)).toISOString()
  return {
    iso,
    isoOrNull: (value: Time | null): string | null => (value === null ? null : iso(value)),
    jsonOrNull: <T>(value: Json | null): T | null => (value === null ? null : (read.json(value) as T)),
  }
}

/** Patch rows: summaries, and records with their patch, result and events. */
function patchMappers<Time, Json>(read: ColumnReader<Time, Json>) {
  const { iso, isoOrNull, jsonOrNull } = readers(read)

  function toSummary(row: SummaryColumns<Time, Json>): PatchSummary {
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
      error: jsonOrNull<PatchError>(row.error),
      submitted_by: row.submitted_by,
      cancelled_by: row.cancelled_by,
    }
  }

  /** `patch` and `events` apart from the row: the stores keep them in other columns or tables. */
  function toRecord(row: RecordColumns<Time, Json>, patch: Json, events: readonly EventColumns[]): PatchRecord {
    return {
      ...toSummary(row),
      patch: read.json(patch) as NormalizedPatch,
      result: jsonOrNull<PatchResult>(row.result),
      events: events.map(toEvent),
    }
  }

  return { toSummary, toRecord }
}

/** Outbox rows: deliveries as a patch's detail shows them, and claimed jobs. */
function outboxMappers<Time, Json>(read: ColumnReader<Time, Json>) {
  const { iso, isoOrNull, jsonOrNull } = readers(read)

  function toDelivery(row: DeliveryColumns<Time>): NotificationDelivery {
    return { ...row, next_attempt_at: isoOrNull(row.next_attempt_at), created_at: iso(row.created_at), updated_at: iso(row.updated_at) }
  }

  function toJob(row: JobColumns<Time, Json>): DeliveryJob {
    return {
      id: row.id,
      url: row.url,
      attempt: row.attempts,
      patch_id: row.patch_id,
      status: row.event,
      reason: row.reason,
      detail: row.detail,
      at: iso(row.at),
      target: row.target,
      client_id: row.client_id,
      result: jsonOrNull<PatchResult>(row.result),
      error: jsonOrNull<PatchError>(row.error),
    }
  }

  return { toDelivery, toJob }
}

/** The row mappers of a store whose driver reads instants and JSON columns as `read` says. */
export function rowMappers<Time, Json>(read: ColumnReader<Time, Json>) {
  const { iso } = readers(read)

  function toRunner(row: RunnerColumns<Time, Json>): RunnerInfo {
    return {
      id: row.id,
      host: row.host,
      pid: row.pid,
      started_at: iso(row.started_at),
      last_seen: iso(row.last_seen),
      info: read.json(row.info) as Record<string, unknown>,
    }
  }

  function toCounts(row: CountColumns<Time>): TargetCounts {
    const oldest = row.oldest_queued_at
    return { target: row.target, queued: row.queued, running: row.running, oldest_queued_at: oldest === null ? null : read.ms(oldest) }
  }

  return { ...patchMappers(read), toRunner, toCounts, ...outboxMappers(read) }
}

/**
 * The record an enqueue just stored, built from what it wrote instead of read back: this is the
 * webhook's hottest path, and reading the patch back would parse its JSON again. `text` is what
 * the store makes of a text column (PostgreSQL's holds no NUL); the conformance suite checks
 * that get() reads the same record.
 */
export function queuedRecord(input: EnqueueInput, at: number, text: (value: string) => string = (value) => value): PatchRecord {
  const { patch } = input
  const time = new Date(at).toISOString()
  const by = input.submittedBy == null ? null : text(input.submittedBy)
  return {
    id: input.id,
    client_id: patch.client_id === null ? null : text(patch.client_id),
    target: text(patch.target),
    format: patch.format,
    status: 'queued',
    description: text(patch.description),
    attempts: 0,
    created_at: time,
    updated_at: time,
    started_at: null,
    finished_at: null,
    error: null,
    submitted_by: by,
    cancelled_by: null,
    patch,
    result: null,
    events: [{ at: time, status: 'queued', reason: 'enqueued', detail: by }],
  }
}
