import { useEffect, useState } from 'preact/hooks'
import type { Queues } from '../../../src/schemas/queue.js'
import type { PatchStatus, PatchSummary } from '../../../src/schemas/record.js'
import { explain, getJson } from '../api.js'
import { isOlder, onPatchChange, onStreamOpen } from '../changes.js'
import { ago, dateTime } from '../format.js'
import { throttle, useLoad } from '../load.js'
import { detailHref, listHref, STATUSES } from '../router.js'
import { StatusBadge } from '../components/status-badge.js'
import { TableWrap } from '../components/table-wrap.js'

const PAGE = 25

interface PatchList {
  items: PatchSummary[]
  next_cursor: string | null
}

/** Newer first, as the API pages them: by creation time, then id. */
const newerFirst = (a: PatchSummary, b: PatchSummary) => (a.created_at === b.created_at ? (a.id < b.id ? 1 : -1) : a.created_at < b.created_at ? 1 : -1)

export function PatchListView({ status, target, cursor }: { status: PatchStatus | null; target: string | null; cursor: string | null }) {
  const query = new URLSearchParams({ limit: String(PAGE) })
  if (status) query.set('status', status)
  if (target) query.set('target', target)
  if (cursor) query.set('cursor', cursor)
  const key = query.toString()
  const list = useLoad(key, (signal) => getJson<PatchList>(`patches?${key}`, { signal }))
  const queues = useLoad('queues', (signal) => getJson<Queues>('queues', { signal }))
  // The cursors of the pages before this one, so "Newer" can go back.
  const [trail, setTrail] = useState<string[]>([])
  // "3 min ago" moves on by itself.
  const [, tick] = useState(0)
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 30_000)
    return () => clearInterval(timer)
  }, [])
  useEffect(() => {
    if (cursor === null) setTrail([])
  }, [cursor])

  useEffect(() => {
    const reload = throttle(list.reload, 300)
    const offOpen = onStreamOpen(reload)
    const offChange = onPatchChange((p) =>
      list.update((page) => {
        const at = page.items.findIndex((item) => item.id === p.id)
        if (at >= 0) {
          if (isOlder(p, page.items[at]!)) return page
          const items = page.items.slice()
          items[at] = p
          return { ...page, items }
        }
        // A new patch shows on the first page when it matches the filters.
        const fits = cursor === null && (status === null || p.status === status) && (target === null || p.target === target)
        const first = page.items[0]
        if (!fits || (first !== undefined && newerFirst(p, first) > 0)) return page
        return { ...page, items: [p, ...page.items].sort(newerFirst) }
      }),
    )
    return () => {
      reload.cancel()
      offOpen()
      offChange()
    }
  }, [list.reload, list.update, cursor, status, target])

  const go = (filters: { status?: string | null; target?: string | null; cursor?: string | null }) => {
    location.hash = listHref({ status, target, ...filters })
  }
  const targets = queues.data?.items.map((q) => q.target) ?? (target ? [target] : [])

  return (
    <>
      <h1 tabIndex={-1}>Patches</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select value={status ?? ''} onChange={(e) => go({ status: (e.target as HTMLSelectElement).value || null, cursor: null })}>
            <option value="">all</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Workspace
          <select value={target ?? ''} onChange={(e) => go({ target: (e.target as HTMLSelectElement).value || null, cursor: null })}>
            <option value="">all</option>
            {targets.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
      </form>
      {list.error !== null && <p class="error">{explain(list.error, 'the patch list')}</p>}
      {list.data && list.data.items.length === 0 && <p class="muted">No patches{status || target ? ' match these filters' : ' yet'}.</p>}
      {list.data && list.data.items.length > 0 && (
        <TableWrap label="Patches, newest first">
          <table class="patches" aria-busy={list.loading}>
            <caption class="visually-hidden">Patches, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Patch</th>
                <th scope="col">Status</th>
                <th scope="col">Workspace</th>
                <th scope="col">Description</th>
                <th scope="col">Accepted</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((p) => (
                <tr key={p.id} data-patch={p.id} data-status={p.status}>
                  <th scope="row">
                    <a href={detailHref(p.id)}>
                      <code>{p.id}</code>
                    </a>
                  </th>
                  <td>
                    <StatusBadge status={p.status} />
                  </td>
                  <td>{p.target}</td>
                  <td class="description">{p.description}</td>
                  <td>
                    <time dateTime={p.created_at} title={dateTime(p.created_at)}>
                      {ago(p.created_at)}
                    </time>
                  </td>
                  <td>{p.error ? <code>{p.error.code}</code> : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <nav class="pager" aria-label="Pages">
        <button
          type="button"
          disabled={cursor === null}
          onClick={() => {
            const previous = trail.at(-1) ?? null
            setTrail(trail.slice(0, -1))
            go({ cursor: previous })
          }}
        >
          ← Newer
        </button>
        <button
          type="button"
          disabled={!list.data?.next_cursor}
          onClick={() => {
            setTrail(cursor === null ? [] : [...trail, cursor])
            go({ cursor: list.data!.next_cursor })
          }}
        >
          Older →
        </button>
      </nav>
    </>
  )
}
