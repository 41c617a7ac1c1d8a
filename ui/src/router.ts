import { useEffect, useState } from 'preact/hooks'
import type { PatchStatus } from '../../src/schemas/record.js'

// A record, so the compiler says when a status is added to the schema and missing here.
const IN_ORDER: Record<PatchStatus, number> = { queued: 0, running: 1, applied: 2, failed: 3, rejected: 4, cancelled: 5 }
export const STATUSES = (Object.keys(IN_ORDER) as PatchStatus[]).sort((a, b) => IN_ORDER[a] - IN_ORDER[b])

export type Route =
  | { view: 'overview' }
  | { view: 'list'; status: PatchStatus | null; target: string | null; cursor: string | null }
  | { view: 'detail'; id: string }
  | { view: 'missing'; hash: string }

/**
 * Views live in the fragment (#/patches?status=failed), so the server serves one page and a
 * view can be bookmarked. Fragments that are not routes (a heading's anchor) leave the view as is.
 */
export function parse(hash: string): Route | null {
  if (hash === '' || hash === '#' || hash === '#/') return { view: 'overview' }
  if (!hash.startsWith('#/')) return null
  const [path = '', query = ''] = hash.slice(2).split('?', 2)
  const params = new URLSearchParams(query)
  if (path === 'patches') {
    const status = params.get('status')
    return {
      view: 'list',
      status: STATUSES.includes(status as PatchStatus) ? (status as PatchStatus) : null,
      target: params.get('target') || null,
      cursor: params.get('cursor') || null,
    }
  }
  const detail = /^patches\/([A-Za-z0-9_-]{1,64})$/.exec(path)
  if (detail) return { view: 'detail', id: detail[1]! }
  return { view: 'missing', hash }
}

export function listHref(filters: { status?: string | null; target?: string | null; cursor?: string | null }): string {
  const params = new URLSearchParams()
  if (filters.status) params.set('status', filters.status)
  if (filters.target) params.set('target', filters.target)
  if (filters.cursor) params.set('cursor', filters.cursor)
  const query = params.toString()
  return `#/patches${query ? `?${query}` : ''}`
}

export const detailHref = (id: string) => `#/patches/${encodeURIComponent(id)}`

export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parse(location.hash) ?? { view: 'overview' })
  useEffect(() => {
    const update = () => {
      const next = parse(location.hash)
      if (next) setRoute(next)
    }
    addEventListener('hashchange', update)
    return () => removeEventListener('hashchange', update)
  }, [])
  return route
}
