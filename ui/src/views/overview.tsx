import { useEffect, useMemo, useState } from 'preact/hooks'
import type { HealthBody } from '../../../src/schemas/health.js'
import type { Queues } from '../../../src/schemas/queue.js'
import type { PatchSummary } from '../../../src/schemas/record.js'
import { explain, getJson } from '../api.js'
import { isOlder, onPatchChange, onStreamOpen } from '../changes.js'
import { ago, duration, timeOfDay } from '../format.js'
import { throttle, useLoad } from '../load.js'
import { listHref } from '../router.js'
import { HOUR_MS, StatusChart } from '../components/status-chart.js'
import { StatusBadge } from '../components/status-badge.js'
import { TableWrap } from '../components/table-wrap.js'

/** Health is not on the event stream: it is read this often, from results the server caches. */
const HEALTH_EVERY_MS = 5_000
/** The chart reads at most this many pages of 100 patches: it must stay cheap on a busy queue. */
const CHART_PAGES = 5

interface PatchList {
  items: PatchSummary[]
  next_cursor: string | null
}

/** Patches accepted in the last hour, newest first, from the list API: at most CHART_PAGES pages. */
async function lastHour(signal: AbortSignal): Promise<{ patches: Map<string, PatchSummary>; partial: boolean }> {
  const since = Date.now() - HOUR_MS
  const patches = new Map<string, PatchSummary>()
  let cursor: string | null = null
  for (let page = 0; page < CHART_PAGES; page++) {
    const list: PatchList = await getJson<PatchList>(`patches?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { signal })
    for (const p of list.items) {
      if (Date.parse(p.created_at) < since) return { patches, partial: false }
      patches.set(p.id, p)
    }
    if (list.next_cursor === null) return { patches, partial: false }
    cursor = list.next_cursor
  }
  return { patches, partial: true }
}

function HealthSection() {
  const health = useLoad('health', (signal) => getJson<HealthBody>('health', { signal, ok: [503] }))
  useEffect(() => {
    const timer = setInterval(health.reload, HEALTH_EVERY_MS)
    return () => clearInterval(timer)
  }, [health.reload])
  const body = health.data
  return (
    <section aria-labelledby="health-title" class="card wide">
      <h2 id="health-title">Health</h2>
      {health.error !== null && <p class="error">{explain(health.error, 'the health report')}</p>}
      {body && (
        <>
          <p class="overall">
            Overall <StatusBadge status={body.overall_status} /> <span class="muted">version {body.version}, checked {timeOfDay(body.timestamp)}</span>
          </p>
          <p>
            Flags:{' '}
            {body.flags.length === 0 ? (
              <span class="muted">none</span>
            ) : (
              body.flags.map((f) => (
                <span key={f} class="flag">
                  {f}
                </span>
              ))
            )}
          </p>
          <TableWrap label="Health components">
            <table>
              <caption class="visually-hidden">Health components</caption>
              <thead>
                <tr>
                  <th scope="col">Component</th>
                  <th scope="col">Status</th>
                  <th scope="col">Observed</th>
                  <th scope="col">Took</th>
                  <th scope="col">Last run</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(body.checks).map(([name, c]) => (
                  <tr key={name}>
                    <th scope="row">
                      {name}
                      {c.critical && <span class="critical"> critical</span>}
                    </th>
                    <td>
                      <StatusBadge status={c.status} />
                    </td>
                    <td class="short">{c.observedValue === undefined || c.observedValue === null ? '—' : `${String(c.observedValue)}${c.observedUnit ? ` ${c.observedUnit}` : ''}`}</td>
                    <td class="short">{duration(c.durationMs)}</td>
                    <td class="short">{c.time ? ago(c.time) : 'never'}</td>
                    <td class="reason">{c.output ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </>
      )}
    </section>
  )
}

function QueuesSection() {
  const queues = useLoad('queues', (signal) => getJson<Queues>('queues', { signal }))
  useEffect(() => {
    const again = throttle(queues.reload, 500)
    const offChange = onPatchChange(again)
    const offOpen = onStreamOpen(again)
    return () => {
      again.cancel()
      offChange()
      offOpen()
    }
  }, [queues.reload])
  return (
    <section aria-labelledby="queues-title" class="card">
      <h2 id="queues-title">Queues</h2>
      {queues.error !== null && <p class="error">{explain(queues.error, 'the queues')}</p>}
      {queues.data && (
        <TableWrap label="Queue depth per workspace">
          <table>
            <caption class="visually-hidden">Queue depth per workspace</caption>
            <thead>
              <tr>
                <th scope="col">Workspace</th>
                <th scope="col">Queued</th>
                <th scope="col">Running</th>
                <th scope="col">Oldest queued</th>
              </tr>
            </thead>
            <tbody>
              {queues.data.items.map((q) => (
                <tr key={q.target} data-target={q.target}>
                  <th scope="row">
                    <a href={listHref({ target: q.target })}>{q.target}</a>
                    {!q.configured && <span class="muted"> (not configured here)</span>}
                  </th>
                  <td class="num">
                    <a href={listHref({ target: q.target, status: 'queued' })} aria-label={`${q.queued} queued in ${q.target}`}>
                      {q.queued}
                    </a>
                  </td>
                  <td class="num">{q.running}</td>
                  <td>{q.oldest_queued_at ? ago(q.oldest_queued_at) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </section>
  )
}

function ChartSection() {
  const hour = useLoad('last-hour', lastHour)
  const [now, setNow] = useState(Date.now())
  useEffect(() => {
    // The window slides: the bars move on every minute.
    const timer = setInterval(() => setNow(Date.now()), 60_000)
    const offOpen = onStreamOpen(hour.reload)
    const offChange = onPatchChange((p) => {
      setNow(Date.now())
      hour.update((h) => {
        // Only the last hour is kept: a page left open all day stays small.
        const since = Date.now() - HOUR_MS
        const patches = new Map([...h.patches].filter(([, q]) => Date.parse(q.created_at) >= since))
        const known = patches.get(p.id)
        if (Date.parse(p.created_at) >= since && (!known || !isOlder(p, known))) patches.set(p.id, p)
        return { ...h, patches }
      })
    })
    return () => {
      clearInterval(timer)
      offOpen()
      offChange()
    }
  }, [hour.reload, hour.update])
  const patches = useMemo(() => (hour.data ? [...hour.data.patches.values()] : []), [hour.data])
  return (
    <section aria-labelledby="chart-heading" class="card">
      <h2 id="chart-heading">Last hour</h2>
      {hour.error !== null && <p class="error">{explain(hour.error, 'the patch list')}</p>}
      {hour.data && <StatusChart patches={patches} now={now} partial={hour.data.partial} />}
    </section>
  )
}

export function Overview() {
  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      <div class="grid">
        <QueuesSection />
        <ChartSection />
        <HealthSection />
      </div>
    </>
  )
}
