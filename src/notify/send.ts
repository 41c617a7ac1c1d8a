import pkg from '../../package.json' with { type: 'json' }
import { sign } from '../auth/webhook-signature.js'
import { retryAfterMs } from './backoff.js'
import { redactUrl } from './targets.js'

export interface SendRequest {
  url: string
  secret: string
  /** webhook-id: the delivery's id, the same on every attempt. */
  id: string
  body: string
  timeoutMs: number
  /** Aborted when the process shuts down. */
  signal: AbortSignal
}

export type SendResult =
  | { ok: true; status: number }
  | { ok: false; status: number | null; error: string; retryAfterMs: number | null; interrupted: boolean }

const USER_AGENT = `ghost-runner/${pkg.version}`

/**
 * One attempt: a POST signed with Standard Webhooks headers (a fresh timestamp and signature
 * each time, the same id and body). Only a 2xx answer counts; redirects are not followed, so
 * the configured URL is the only place a notification goes. Never throws.
 */
export async function sendNotification(req: SendRequest): Promise<SendResult> {
  const timestamp = Math.floor(Date.now() / 1000)
  const deadline = new Deadline(req.timeoutMs, req.signal)
  try {
    const { url, authorization } = withoutCredentials(req.url)
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'webhook-id': req.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': sign(req.secret, req.id, timestamp, req.body),
        ...(authorization ? { authorization } : {}),
      },
      body: req.body,
      redirect: 'manual',
      signal: deadline.signal,
    })
    // The answer's body is of no use; dropping it frees the connection.
    await res.body?.cancel().catch(() => undefined)
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status }
    const redirect = res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''
    return { ok: false, status: res.status, error: `HTTP ${res.status}${redirect}`, retryAfterMs: retryAfterMs(res.headers.get('retry-after')), interrupted: false }
  } catch (err) {
    if (req.signal.aborted) return { ok: false, status: null, error: 'interrupted by shutdown', retryAfterMs: null, interrupted: true }
    // The error is recorded and shown on the patch: no credentials or query string in it.
    const error = describe(err, req.timeoutMs).replaceAll(req.url, redactUrl(req.url))
    return { ok: false, status: null, error, retryAfterMs: null, interrupted: false }
  } finally {
    deadline.clear()
  }
}

/**
 * Aborts at the timeout or at shutdown. Not AbortSignal.any([signal, AbortSignal.timeout()]):
 * on Node 20 the combined signal holds its sources weakly and the timeout's timer holds its
 * signal weakly, so a garbage collection during the request dropped the timeout and a receiver
 * that never answered held the delivery for good. Here the timer holds the controller.
 */
class Deadline {
  readonly #controller = new AbortController()
  readonly #timer: NodeJS.Timeout
  readonly #shutdown: AbortSignal
  readonly #onShutdown = () => this.#controller.abort(this.#shutdown.reason)

  constructor(timeoutMs: number, shutdown: AbortSignal) {
    this.#shutdown = shutdown
    this.#timer = setTimeout(() => this.#controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')), timeoutMs)
    if (shutdown.aborted) this.#onShutdown()
    else shutdown.addEventListener('abort', this.#onShutdown, { once: true })
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  clear(): void {
    clearTimeout(this.#timer)
    this.#shutdown.removeEventListener('abort', this.#onShutdown)
  }
}

/** fetch refuses credentials in a URL; they become the Basic authorization they stand for. */
function withoutCredentials(raw: string): { url: string; authorization: string | null } {
  const u = new URL(raw)
  if (u.username === '' && u.password === '') return { url: raw, authorization: null }
  const pair = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`
  u.username = ''
  u.password = ''
  return { url: u.href, authorization: `Basic ${Buffer.from(pair, 'utf8').toString('base64')}` }
}

function describe(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { message?: string; code?: string } }
  if (e.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`
  return e.cause?.message ?? e.cause?.code ?? e.message ?? String(err)
}
