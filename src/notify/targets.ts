import type { Config, NotificationTarget } from '../config.js'
import type { NotificationSubscription } from '../store/port.js'

/** What the store records deliveries for: each configured URL and the statuses it wants. */
export function subscriptionsOf(config: Pick<Config, 'notifications'>): NotificationSubscription[] {
  return config.notifications.map((t) => ({ url: t.url, events: t.events ?? null }))
}

/** The configured targets by URL: the only destinations a dispatcher ever sends to. */
export function targetsByUrl(config: Pick<Config, 'notifications'>): Map<string, NotificationTarget> {
  return new Map(config.notifications.map((t) => [t.url, t]))
}

/**
 * A URL fit for responses and logs: credentials and the query string (where endpoints often
 * carry a token) are left out.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`
  } catch {
    return '(invalid URL)'
  }
}
