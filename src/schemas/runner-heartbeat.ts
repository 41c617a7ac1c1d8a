import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

/** A workspace a runner will not touch, and why (health names it). */
export const BlockedWorkspace = Type.Object({
  target: Type.String(),
  code: Type.String(),
  message: Type.String(),
  paths: Type.Array(Type.String()),
})

/** What a runner reports in its heartbeat `info`. */
export const RunnerHeartbeatInfo = Type.Object({
  blocked: Type.Array(BlockedWorkspace),
  in_flight: Type.Array(Type.String()),
  concurrency: Type.Integer(),
  stopping: Type.Boolean(),
  /** Where checks run less confined than the default (sandbox: "none", no process limit). */
  sandbox: Type.Array(Type.String()),
})
export type RunnerHeartbeatInfo = Static<typeof RunnerHeartbeatInfo>

const SomeHeartbeatInfo = Type.Partial(RunnerHeartbeatInfo)

/**
 * A heartbeat's `info` as the store kept it, read back: each field this version knows, where it
 * has the shape it reports. A runner of another version may leave a field out or shape it
 * otherwise; such a field is left out rather than trusted.
 */
export function readHeartbeatInfo(info: Record<string, unknown>): Partial<RunnerHeartbeatInfo> {
  const known = Object.entries(RunnerHeartbeatInfo.properties).filter(([key, schema]) => Value.Check(schema, info[key]))
  const kept = Object.fromEntries(known.map(([key]) => [key, info[key]]))
  return Value.Check(SomeHeartbeatInfo, kept) ? kept : {}
}
