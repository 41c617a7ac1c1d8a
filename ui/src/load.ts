import { useCallback, useEffect, useRef, useState } from 'preact/hooks'

export interface Loaded<T> {
  data: T | null
  error: unknown
  loading: boolean
  /** Loads again; the previous data stays on screen meanwhile. */
  reload: () => void
  /** Replaces the data in place (a change from the stream); applied again to a load's answer that was read before it. */
  update: (fn: (current: T) => T) => void
}

/**
 * Loads `fetcher` when `key` changes; a later load supersedes an earlier one still in flight (its
 * request is aborted), so a slow answer never overwrites a newer one. Updates made while a load
 * is in flight are applied again to its answer: the answer was read before them, and would
 * otherwise undo them (a patch shown running after the stream said it was applied).
 */
export function useLoad<T>(key: string, fetcher: (signal: AbortSignal) => Promise<T>): Loaded<T> {
  const [state, setState] = useState<{ key: string; data: T | null; error: unknown; loading: boolean }>({ key, data: null, error: null, loading: true })
  const current = useRef<AbortController | null>(null)
  // The updates made since the load in flight began; null when none is in flight.
  const sinceLoad = useRef<((current: T) => T)[] | null>(null)
  const fetcherRef = useRef(fetcher)
  fetcherRef.current = fetcher

  const load = useCallback((forKey: string) => {
    current.current?.abort()
    const abort = (current.current = new AbortController())
    const updates: ((current: T) => T)[] = (sinceLoad.current = [])
    setState((s) => ({ key: forKey, data: s.key === forKey ? s.data : null, error: null, loading: true }))
    const settled = () => {
      if (sinceLoad.current === updates) sinceLoad.current = null
    }
    fetcherRef.current(abort.signal).then(
      (data) => {
        if (abort.signal.aborted) return
        settled()
        setState({ key: forKey, data: updates.reduce((d, fn) => fn(d), data), error: null, loading: false })
      },
      (error: unknown) => {
        if (abort.signal.aborted) return
        settled()
        setState((s) => ({ key: forKey, data: s.key === forKey ? s.data : null, error, loading: false }))
      },
    )
  }, [])

  useEffect(() => {
    load(key)
    return () => current.current?.abort()
  }, [key, load])

  const reload = useCallback(() => load(key), [key, load])
  const update = useCallback((fn: (current: T) => T) => {
    sinceLoad.current?.push(fn)
    setState((s) => (s.data === null ? s : { ...s, data: fn(s.data) }))
  }, [])
  return { data: state.key === key ? state.data : null, error: state.key === key ? state.error : null, loading: state.loading || state.key !== key, reload, update }
}

/** Calls `fn` at most once per `ms`, on the trailing edge. */
export function throttle(fn: () => void, ms: number): (() => void) & { cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined
  const call = () => {
    if (timer !== undefined) return
    timer = setTimeout(() => {
      timer = undefined
      fn()
    }, ms)
  }
  return Object.assign(call, { cancel: () => clearTimeout(timer) })
}
