import type { PatchSummary } from '../../src/schemas/record.js'
import { LiveStream } from './live.js'

type ChangeListener = (summary: PatchSummary) => void
type OpenListener = () => void

const changeListeners = new Set<ChangeListener>()
const openListeners = new Set<OpenListener>()
let stream: LiveStream | null = null

/**
 * The page's one stream of every patch change (GET /events), shared by the overview and the
 * list: streams are capped per token, so a page holds one for the whole queue.
 */
export function startChanges(): void {
  stream ??= new LiveStream('events', {
    onEvent(type, data) {
      if (type !== 'patch') return
      const summary = JSON.parse(data) as PatchSummary
      for (const listener of [...changeListeners]) listener(summary)
    },
    // The stream has no history: whatever was shown may have missed changes until now.
    onOpen() {
      for (const listener of [...openListeners]) listener()
    },
  })
}

export function stopChanges(): void {
  stream?.stop()
  stream = null
}

export function onPatchChange(listener: ChangeListener): () => void {
  changeListeners.add(listener)
  return () => void changeListeners.delete(listener)
}

/**
 * Replayed onto a read made after it, a change may be older than what is held: it never
 * replaces it. The server's timestamps are ISO strings of one width, so they compare as text.
 */
export function isOlder(change: PatchSummary, held: PatchSummary): boolean {
  return change.updated_at < held.updated_at
}

/** Called each time the stream (re)connects: reload what is shown, then apply changes. */
export function onStreamOpen(listener: OpenListener): () => void {
  openListeners.add(listener)
  return () => void openListeners.delete(listener)
}
