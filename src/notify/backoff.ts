export interface BackoffSettings {
  backoffMs: number
  maxBackoffMs: number
}

/**
 * Delay before attempt `attempt + 1` after attempt `attempt` failed: backoffMs · 2^(attempt−1),
 * stretched by a random 0–50 % so that receivers coming back are not hit by every sender at
 * once, capped at maxBackoffMs. The jitter never exceeds the doubling, so delays only grow.
 */
export function retryDelay(attempt: number, s: BackoffSettings, random: () => number = Math.random): number {
  const base = s.backoffMs * 2 ** Math.max(0, attempt - 1)
  return Math.round(Math.min(s.maxBackoffMs, base * (1 + random() / 2)))
}

/** A Retry-After header (seconds or an HTTP date) as milliseconds from now, or null. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null) return null
  const text = header.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  return Number.isNaN(at) ? null : Math.max(0, at - now)
}
