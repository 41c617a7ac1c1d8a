import { Type, type Static, type TSchema } from '@sinclair/typebox'
import type { HealthPlace } from '../health/place.js'

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
    /** The value this probe shows at its place in the legacy body, e.g. true, 'up'; checked against the place's type. */
    legacy: Type.Optional(Type.Unknown()),
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

/** The legacy `components` map: the probes' places there, the varying keys described by pattern. */
function legacyComponents(places: HealthPlace[]) {
  const named = places.filter((p) => p.in === 'components' && p.pattern === undefined)
  const patterns = places.flatMap((p) => (p.in === 'components' && p.pattern !== undefined ? [p.pattern] : []))
  return Type.Object(Object.fromEntries(named.map((p) => [p.key, p.type])), {
    title: 'HealthComponents',
    additionalProperties: Type.Union([Type.Boolean(), Type.String()], {
      description: patterns.length > 0 ? `Other probes by name, among them ${patterns.join(', ')}` : 'Other probes by name',
    }),
  })
}

/**
 * The `GET /health` body for an overall status among `overall`: the previous system's fields
 * (those probes hold, at their places) plus `flags` and `checks`.
 */
const healthBody = <S extends TSchema>(overall: S, places: HealthPlace[], options: { title?: string; description?: string } = {}) =>
  Type.Object(
    {
      // First, so the per-request timestamp can be spliced in front of a body serialised once.
      timestamp: Time,
      overall_status: overall,
      components: legacyComponents(places),
      ...Object.fromEntries(places.filter((p) => p.in === 'body').map((p) => [p.key, p.type])),
      version: Type.String(),
      flags: Type.Array(Type.String(), { description: 'e.g. ghost_down, disk_space_warn, fs_writable_unknown' }),
      checks: Type.Record(Type.String(), CheckDetail),
    },
    options,
  )

/** What the service builds, whatever the status: the fixed fields typed, the probes' places open. */
export type HealthBody = Static<ReturnType<typeof healthBody<typeof OverallStatus>>> & { components: Record<string, unknown>; [field: string]: unknown }

/** `GET /health`'s bodies for the places the probes hold: 200 (healthy, degraded) and 503 (unhealthy, unknown). */
export const healthBodies = (places: HealthPlace[]) => ({
  report: healthBody(Type.Union([Type.Literal('healthy'), Type.Literal('degraded')]), places, {
    title: 'Health',
    description: 'The service is healthy or degraded: it takes traffic',
  }),
  // A normal answer, with its own type.
  unavailable: healthBody(Type.Union([Type.Literal('unhealthy'), Type.Literal('unknown')]), places, {
    title: 'HealthUnavailable',
    description: 'A critical probe fails (unhealthy) or has no fresh result (unknown)',
  }),
})

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
}, { title: 'HealthCheckDraftEntry' })
export type IetfCheck = Static<typeof IetfCheck>

const ietfBody = <S extends TSchema>(status: S, options: { title?: string; description?: string } = {}) =>
  Type.Object(
    {
      status,
      version: Type.String(),
      serviceId: Type.String(),
      description: Type.String(),
      checks: Type.Record(Type.String(), Type.Array(IetfCheck), { description: 'Keyed `component:measurement`' }),
    },
    options,
  )

/** draft-inadarei-api-health-check (application/health+json), whatever the status. */
export const IetfHealthBody = ietfBody(ProbeStatus)
export type IetfHealthBody = Static<typeof IetfHealthBody>

/** `GET /health` 200 as application/health+json. */
export const IetfHealthReport = ietfBody(Type.Union([Type.Literal('pass'), Type.Literal('warn')]), {
  title: 'HealthCheckDraft',
  description: 'draft-inadarei-api-health-check body (application/health+json): pass or warn',
})
/** `GET /health` 503 as application/health+json. */
export const IetfHealthUnavailable = ietfBody(Type.Literal('fail'), {
  title: 'HealthCheckDraftUnavailable',
  description: 'draft-inadarei-api-health-check body (application/health+json): fail',
})

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
