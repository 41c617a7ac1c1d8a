import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { BaseLogger } from 'pino'
import type { Config, NotificationTarget } from '../config.js'
import type { DeliveryJob, DeliveryOutcome, Store } from '../store/port.js'
import { retryDelay } from './backoff.js'
import { notificationPayload } from './payload.js'
import { sendNotification, type SendResult } from './send.js'
import { redactUrl, targetsByUrl } from './targets.js'

export type DispatcherLogger = Pick<BaseLogger, 'debug' | 'info' | 'warn' | 'error'>

export interface DispatcherOptions {
  store: Store
  config: Pick<Config, 'notifications' | 'notify'>
  log: DispatcherLogger
  /** Defaults to host:pid:random, unique per dispatcher. */
  id?: string
  /** The jitter source of the backoff. */
  random?: () => number
}

/**
 * Sends the outbox: claims due deliveries for the configured URLs (at most `concurrency` in
 * flight), POSTs each, and records the outcome: delivered, pending again after an exponential
 * backoff, or failed after maxAttempts. It runs on its own timers; nothing that changes a
 * patch's status ever waits for it. Any number of dispatchers may share a store: a claim is a
 * lease, so each delivery is in flight at one of them at a time.
 */
export class Dispatcher {
  readonly id: string
  readonly #store: Store
  readonly #settings: Config['notify']
  readonly #targets: Map<string, NotificationTarget>
  readonly #urls: string[]
  readonly #log: DispatcherLogger
  readonly #random: () => number
  readonly #inFlight = new Set<Promise<void>>()
  readonly #shutdown = new AbortController()
  #timer: NodeJS.Timeout | undefined
  #running = false
  #pumping: Promise<void> | null = null
  #pumpAgain = false

  constructor(opts: DispatcherOptions) {
    this.id = opts.id ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
    this.#store = opts.store
    this.#settings = opts.config.notify
    this.#targets = targetsByUrl(opts.config)
    this.#urls = [...this.#targets.keys()]
    this.#log = opts.log
    this.#random = opts.random ?? Math.random
  }

  get running(): boolean {
    return this.#running
  }

  get inFlight(): number {
    return this.#inFlight.size
  }

  /** Starts polling the outbox; without configured targets there is nothing to send. */
  start(): void {
    if (this.#running || this.#urls.length === 0) return
    this.#running = true
    this.#log.info({ dispatcher: this.id, targets: this.#urls.map(redactUrl) }, 'notification dispatcher started')
    void this.#pump()
  }

  /** Looks for due deliveries now rather than at the next poll. */
  wake(): void {
    if (this.#running) void this.#pump()
  }

  /**
   * Stops claiming and interrupts the requests in flight; each is recorded as pending again, due
   * at once and its attempt not counted, so another dispatcher (or this one after a restart) sends it.
   */
  async stop(): Promise<void> {
    this.#running = false
    clearTimeout(this.#timer)
    this.#shutdown.abort()
    // A claim still on its way may add deliveries: they are interrupted and recorded too.
    await this.#pumping
    await Promise.all(this.#inFlight)
  }

  // The lease outlives the request's own deadline, so a delivery is not handed to another
  // dispatcher while this one may still be sending it.
  get #leaseMs(): number {
    return 2 * this.#settings.timeoutMs + 1000
  }

  #pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true
      return this.#pumping
    }
    clearTimeout(this.#timer)
    // .finally runs after this assignment even when the claim loop ends without waiting.
    this.#pumping = this.#claimWhileDue().finally(() => {
      this.#pumping = null
      if (!this.#running) return
      // A wake-up that came as the loop ended is not lost; otherwise poll.
      if (this.#pumpAgain) void this.#pump()
      else {
        this.#timer = setTimeout(() => void this.#pump(), this.#settings.pollMs)
        this.#timer.unref()
      }
    })
    return this.#pumping
  }

  async #claimWhileDue(): Promise<void> {
    do {
      this.#pumpAgain = false
      const free = this.#settings.concurrency - this.#inFlight.size
      if (!this.#running || free <= 0) return
      let jobs: DeliveryJob[]
      try {
        jobs = await this.#store.claimDeliveries({ owner: this.id, urls: this.#urls, limit: free, leaseMs: this.#leaseMs })
      } catch (err) {
        this.#log.warn({ err }, 'could not claim notification deliveries; retrying at the next poll')
        return
      }
      for (const job of jobs) this.#track(this.#deliver(job))
      // A full batch suggests more are due.
      if (jobs.length === free) this.#pumpAgain = true
    } while (this.#pumpAgain && this.#running)
  }

  #track(work: Promise<void>): void {
    this.#inFlight.add(work)
    void work.finally(() => {
      this.#inFlight.delete(work)
      // A slot is free: more may be due.
      if (this.#running) void this.#pump()
    })
  }

  async #deliver(job: DeliveryJob): Promise<void> {
    const target = this.#targets.get(job.url)
    const where = { delivery: job.id, patch: job.patch_id, event: job.status, url: redactUrl(job.url), attempt: job.attempt }
    if (!target) return
    const max = this.#settings.maxAttempts
    let outcome: DeliveryOutcome
    if (job.attempt > max) {
      // The last attempt's dispatcher vanished without recording it.
      outcome = { state: 'failed', status: null, error: `no answer recorded for attempt ${max} of ${max}` }
    } else {
      const sent = await sendNotification({
        url: target.url,
        secret: target.secret,
        id: job.id,
        body: JSON.stringify(notificationPayload(job)),
        timeoutMs: this.#settings.timeoutMs,
        signal: this.#shutdown.signal,
      })
      outcome = this.#outcome(job, sent)
    }
    try {
      const settled = await this.#store.settleDelivery(job.id, this.id, job.attempt, outcome)
      if (!settled) this.#log.warn(where, 'notification lease lost before its outcome was recorded; it will be sent again')
      else if (outcome.state === 'delivered') this.#log.debug({ ...where, status: outcome.status }, 'notification delivered')
      else if (outcome.state === 'failed') this.#log.warn({ ...where, status: outcome.status, error: outcome.error }, 'notification failed after its last attempt')
      else this.#log.info({ ...where, status: outcome.status, error: outcome.error, retry_in_ms: outcome.retryInMs }, 'notification attempt failed; retrying')
    } catch (err) {
      this.#log.warn({ ...where, err }, 'could not record a notification outcome; it will be sent again when its lease ends')
    }
  }

  #outcome(job: DeliveryJob, sent: SendResult): DeliveryOutcome {
    if (sent.ok) return { state: 'delivered', status: sent.status }
    // Given up by this side, not refused by the receiver: it does not count as an attempt.
    if (sent.interrupted) return { state: 'pending', status: null, error: sent.error, retryInMs: 0, interrupted: true }
    if (job.attempt >= this.#settings.maxAttempts) return { state: 'failed', status: sent.status, error: sent.error }
    // A receiver asking for more time (429, 503 with Retry-After) gets it, within the cap.
    const delay = Math.min(this.#settings.maxBackoffMs, Math.max(retryDelay(job.attempt, this.#settings, this.#random), sent.retryAfterMs ?? 0))
    return { state: 'pending', status: sent.status, error: sent.error, retryInMs: delay }
  }
}
