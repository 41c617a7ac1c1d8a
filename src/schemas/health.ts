import { Type, type Static, type TSchema } from '@sinclair/typebox'

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
const Time = Type.String({ format: 'date-time' })

/** What one run of a probe concluded. */
export const ProbeStatus = Type.Union([Type.Literal('pass'), Type.Literal('warn'), Type.Literal('fail')], { title: 'ProbeStatus' })
export type ProbeStatus = Static<typeof ProbeStatus>

/** A probe's reported status: `unknown` when it threw, timed out, has no result yet or its result is stale. */
export const CheckStatus = Type.Union([ProbeStatus, Type.Literal('unknown')], { title: 'CheckStatus' })
export type CheckStatus = Static<typeof CheckStatus>

export const OverallStatus = Type.Union(
  [Type.Literal('healthy'), Type.Literal('degraded'), Type.Literal('unhealthy'), Type.Literal('unknown')],
  { title: 'OverallStatus', description: 'unhealthy: a critical probe fails; unknown: a critical probe has no fresh result; degraded: any other flag' },
)
export type OverallStatus = Static<typeof OverallStatus>

export const ObservedValue = Nullable(Type.Union([Type.Number(), Type.String(), Type.Boolean()]))
export type ObservedValue = Static<typeof ObservedValue>

/** The previous system's `system_metrics`; a figure the host would not give is null. */
export const SystemMetrics = Type.Object(
  {
    cpu: Type.Object({ count: Nullable(Type.Integer()), percent: Nullable(Type.Number()) }),
    memory: Type.Object({ percent: Nullable(Type.Number()) }),
    disk: Type.Object({ percent: Nullable(Type.Number({ description: "Used share of the data directory's filesystem" })) }),
    network: Type.Object({ bytes_recv: Nullable(Type.Number({ description: 'Bytes received, summed over non-loopback interfaces' })) }),
  },
  { title: 'SystemMetrics' },
)
export type SystemMetrics = Static<typeof SystemMetrics>

/** A probe's value in the legacy `components` map (or, for system_metrics, the metrics object). */
export const LegacyValue = Type.Union([Type.Boolean(), Type.String(), SystemMetrics])
export type LegacyValue = Static<typeof LegacyValue>

/** What a probe's check resolves to. */
export const ProbeOutcome = Type.Object(
  {
    status: ProbeStatus,
    observedValue: Type.Optional(ObservedValue),
    observedUnit: Type.Optional(Type.String()),
    /** Why it is not passing. Only token holders (or exposeDetail) ever see it. */
    output: Type.Optional(Type.String()),
    /** The status flag raised while not passing (default `<probe>_<status>`), e.g. `ghost_down`. */
    flag: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_]*$' })),
    /** The value this probe contributes to the legacy body, e.g. true, 'up', 'operational'. */
    component: Type.Optional(LegacyValue),
  },
  { additionalProperties: false },
)
export type ProbeOutcome = Static<typeof ProbeOutcome>

export const CheckDetail = Type.Object(
  {
    status: CheckStatus,
    critical: Type.Boolean(),
    observedValue: Type.Optional(ObservedValue),
    observedUnit: Type.Optional(Type.String()),
    time: Nullable(Time),
    durationMs: Nullable(Type.Number()),
    output: Type.Optional(Type.String({ description: 'Failure text; only for a valid bearer token' })),
  },
  { title: 'HealthCheckDetail' },
)
export type CheckDetail = Static<typeof CheckDetail>

const RunnerState = Type.Union([Type.Literal('up'), Type.Literal('down')])
const WebhookState = Type.Union([Type.Literal('operational'), Type.Literal('down')])

export const portProbeName = (port: number) => `port_${port}_bound`

/** The `GET /health` body: the previous system's fields (kept compatible) plus `flags` and `checks`. */
export function HealthBody(port: number) {
  return Type.Object(
    {
      // First, so the per-request timestamp can be spliced in front of a body serialised once.
      timestamp: Time,
      overall_status: OverallStatus,
      components: Type.Object(
        {
          http_responsive: Type.Boolean(),
          fs_writable: Type.Boolean(),
          ghost_runner: RunnerState,
          webhook_endpoint: WebhookState,
          [portProbeName(port)]: Type.Boolean({ description: 'false until the server listens' }),
        },
        { additionalProperties: Type.Union([Type.Boolean(), Type.String()]) },
      ),
      system_metrics: SystemMetrics,
      version: Type.String(),
      flags: Type.Array(Type.String(), { description: 'e.g. ghost_down, disk_space_warn, fs_writable_unknown' }),
      checks: Type.Record(Type.String(), CheckDetail),
    },
    { title: 'Health' },
  )
}
export type HealthBody = Static<ReturnType<typeof HealthBody>>

/** One entry of draft-inadarei-api-health-check `checks`. */
export const IetfCheck = Type.Object({
  componentId: Type.Optional(Type.String()),
  componentType: Type.String(),
  observedValue: Type.Optional(ObservedValue),
  observedUnit: Type.Optional(Type.String()),
  status: ProbeStatus,
  time: Type.Optional(Time),
  affectedEndpoints: Type.Optional(Type.Array(Type.String())),
  output: Type.Optional(Type.String()),
})
export type IetfCheck = Static<typeof IetfCheck>

export const IetfHealthBody = Type.Object(
  {
    status: ProbeStatus,
    version: Type.String(),
    serviceId: Type.String(),
    description: Type.String(),
    checks: Type.Record(Type.String(), Type.Array(IetfCheck), { description: 'Keyed `component:measurement`' }),
  },
  { title: 'HealthCheckDraft', description: 'draft-inadarei-api-health-check (application/health+json)' },
)
export type IetfHealthBody = Static<typeof IetfHealthBody>

export const LiveBody = Type.Object(
  {
    status: Type.Union([Type.Literal('pass'), Type.Literal('fail')]),
    event_loop_delay_ms: Nullable(Type.Number({ description: 'Worst event-loop delay over the last two probe intervals' })),
  },
  { title: 'Liveness' },
)
export type LiveBody = Static<typeof LiveBody>

export const StartupBody = Type.Object(
  { status: Type.Union([Type.Literal('started'), Type.Literal('starting')]) },
  { title: 'Startup' },
)
export type StartupBody = Static<typeof StartupBody>

export const ReadyBody = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
    reason: Type.Optional(Type.Union([Type.Literal('starting'), Type.Literal('draining'), Type.Literal('unhealthy'), Type.Literal('unknown')])),
    overall_status: OverallStatus,
  },
  { title: 'Readiness' },
)
export type ReadyBody = Static<typeof ReadyBody>
