import type { PatchStatus, PatchSummary } from '../../../src/schemas/record.js'
import { STATUSES } from '../router.js'
import { timeOfDay } from '../format.js'

export const HOUR_MS = 3_600_000
const BUCKETS = 12
const BUCKET_MS = HOUR_MS / BUCKETS
const W = 360
const H = 120
const PAD_BOTTOM = 18
const PAD_LEFT = 24

type Counts = Record<PatchStatus, number>
const zero = (): Counts => ({ queued: 0, running: 0, applied: 0, failed: 0, rejected: 0, cancelled: 0 })

/**
 * Patches accepted in the last hour, in twelve five-minute bars stacked by their status now.
 * The legend repeats every count in words, so nothing depends on telling colours apart.
 */
export function StatusChart({ patches, now, partial }: { patches: readonly PatchSummary[]; now: number; partial: boolean }) {
  const start = now - HOUR_MS
  const buckets = Array.from({ length: BUCKETS }, zero)
  const totals = zero()
  for (const p of patches) {
    const at = Date.parse(p.created_at)
    if (at < start || at > now) continue
    const i = Math.min(BUCKETS - 1, Math.floor((at - start) / BUCKET_MS))
    buckets[i]![p.status]++
    totals[p.status]++
  }
  const highest = Math.max(1, ...buckets.map((b) => STATUSES.reduce((n, s) => n + b[s], 0)))
  const barW = (W - PAD_LEFT) / BUCKETS
  const scale = (H - PAD_BOTTOM - 4) / highest
  const total = STATUSES.reduce((n, s) => n + totals[s], 0)

  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-title chart-desc" preserveAspectRatio="none">
        <title id="chart-title">Patches accepted per five minutes over the last hour, by status</title>
        <desc id="chart-desc">{STATUSES.map((s) => `${s}: ${totals[s]}`).join(', ')}</desc>
        <text x="0" y="10" class="axis">{highest}</text>
        <text x="0" y={H - PAD_BOTTOM} class="axis">0</text>
        <line x1={PAD_LEFT} x2={W} y1={H - PAD_BOTTOM} y2={H - PAD_BOTTOM} class="baseline" />
        {buckets.map((b, i) => {
          let y = H - PAD_BOTTOM
          return (
            <g key={i}>
              {STATUSES.map((s) => {
                const h = b[s] * scale
                if (h === 0) return null
                y -= h
                return <rect key={s} x={PAD_LEFT + i * barW + 2} y={y} width={barW - 4} height={h} class={`bar status-${s}`} />
              })}
            </g>
          )
        })}
        <text x={PAD_LEFT} y={H - 4} class="axis">{timeOfDay(start)}</text>
        <text x={W} y={H - 4} class="axis" text-anchor="end">{timeOfDay(now)}</text>
      </svg>
      <figcaption>
        <ul class="legend">
          {STATUSES.map((s) => (
            <li key={s}>
              <span class={`swatch status-${s}`} aria-hidden="true" />
              {s} <strong>{totals[s]}</strong>
            </li>
          ))}
        </ul>
        <p class="muted">
          {total} accepted in the last hour{partial ? ' (at least: only the newest are counted)' : ''}.
        </p>
      </figcaption>
    </figure>
  )
}
