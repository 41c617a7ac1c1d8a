import { useEffect, useState } from 'preact/hooks'
import { liveness, watchLiveness, type Liveness } from '../live.js'
import { timeOfDay } from '../format.js'

/** How long "back" stays on screen after the page's streams are live again. */
const BACK_MS = 15_000

/** Says whether the page is live: when its streams were lost, when they will try again, and when they are back. */
export function StreamBanner() {
  const [live, setLive] = useState<Liveness>(liveness)
  const [back, setBack] = useState<{ at: number; lostFor: number } | null>(null)
  const [, tick] = useState(0)

  useEffect(() => {
    let previous = liveness()
    return watchLiveness(() => {
      const next = liveness()
      if (previous.state === 'lost' && next.state === 'live') setBack({ at: Date.now(), lostFor: Date.now() - (previous.since ?? Date.now()) })
      if (next.state === 'lost') setBack(null)
      previous = next
      setLive(next)
    })
  }, [])
  // A countdown while lost, and the "back" note expiring.
  useEffect(() => {
    if (live.state !== 'lost' && back === null) return
    const timer = setInterval(() => {
      if (back && Date.now() - back.at > BACK_MS) setBack(null)
      tick((n) => n + 1)
    }, 1000)
    return () => clearInterval(timer)
  }, [live.state, back])

  let text: string
  let kind: string
  if (live.state === 'lost') {
    const wait = live.retryAt === null ? 0 : Math.max(0, Math.ceil((live.retryAt - Date.now()) / 1000))
    kind = 'lost'
    text = `Live updates lost at ${timeOfDay(live.since ?? Date.now())}; ${wait > 0 ? `reconnecting in ${wait} s` : 'reconnecting…'}`
  } else if (live.state === 'connecting') {
    kind = 'connecting'
    text = 'Connecting to live updates…'
  } else if (back) {
    kind = 'back'
    text = `Live again since ${timeOfDay(back.at)} (lost for ${Math.max(1, Math.round(back.lostFor / 1000))} s)`
  } else {
    kind = 'live'
    text = 'Live'
  }
  return (
    <p class={`stream stream-${kind}`} role="status" aria-live="polite" data-stream={kind}>
      <span class="dot" aria-hidden="true" />
      {text}
    </p>
  )
}
