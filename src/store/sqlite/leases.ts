import type Database from 'better-sqlite3'
import type { Finish } from '../adapter/finish.js'
import { jsonOrNull } from '../adapter/finish.js'
import { VERIFY_ONLY_REASON, type ReapOptions } from '../port/queue.js'
import type { Events } from './events.js'

// Every statement that ends or extends a lease names the token: a runner that lost its lease
// (reaped, re-claimed by another) matches no row, whatever it believes.

/** Heartbeat, finish, release and reaping of running patches; each write one IMMEDIATE transaction. */
export function prepareLeases(db: Database.Database, events: Events) {
  const extend = db.prepare<[{ id: string; token: number; expires: number }]>(
    `UPDATE patches SET lease_expires_at = @expires WHERE id = @id AND status = 'running' AND lease_token = @token`,
  )
  const finish = db.prepare<[{ id: string; token: number; status: Finish['status']; result: string | null; error: string | null; now: number }]>(
    `UPDATE patches SET status = @status, result = @result, error = @error, lease_expires_at = NULL,
       finished_at = @now, updated_at = @now
     WHERE id = @id AND status = 'running' AND lease_token = @token`,
  )
  // give_back: 1 returns the claim's attempt (a release that did nothing to the patch).
  const requeue = db.prepare<[{ id: string; token: number; now: number; give_back: 0 | 1 }]>(
    `UPDATE patches SET status = 'queued', lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL,
       started_at = NULL, updated_at = @now, attempts = attempts - @give_back
     WHERE id = @id AND status = 'running' AND lease_token = @token`,
  )
  const expired = db.prepare<[number], { id: string; attempts: number; lease_token: number; lease_owner: string | null }>(
    `SELECT id, attempts, lease_token, lease_owner FROM patches
     WHERE status = 'running' AND lease_expires_at <= ? ORDER BY seq`,
  )
  return {
    heartbeat: (id: string, token: number, leaseMs: number, now?: number): boolean =>
      extend.run({ id, token, expires: (now ?? Date.now()) + leaseMs }).changes === 1,

    finish: (f: Finish): boolean => {
      const now = Date.now()
      return db
        .transaction(() => {
          if (finish.run({ id: f.id, token: f.token, status: f.status, result: jsonOrNull(f.result), error: jsonOrNull(f.error), now }).changes !== 1) return false
          events.record({ patch_id: f.id, at: now, status: f.status, reason: f.reason, detail: f.detail })
          return true
        })
        .immediate()
    },

    release: (id: string, token: number, reason: string, detail: string | null, attempted: boolean): boolean => {
      const now = Date.now()
      return db
        .transaction(() => {
          if (requeue.run({ id, token, now, give_back: attempted ? 0 : 1 }).changes !== 1) return false
          events.record({ patch_id: id, at: now, status: 'queued', reason, detail })
          return true
        })
        .immediate()
    },

    /** Resolves to the ids requeued. */
    reap: (opts: ReapOptions): string[] => {
      const now = opts.now ?? Date.now()
      return db
        .transaction(() => {
          const ids: string[] = []
          for (const lease of expired.all(now)) {
            // Never failed here: the runner may have committed before it died (see QueuePort.reapExpired).
            const reason = lease.attempts >= opts.maxAttempts ? VERIFY_ONLY_REASON : 'lease_expired'
            if (requeue.run({ id: lease.id, token: lease.lease_token, now, give_back: 0 }).changes !== 1) continue
            events.record({ patch_id: lease.id, at: now, status: 'queued', reason, detail: lease.lease_owner ?? 'unknown' })
            ids.push(lease.id)
          }
          return ids
        })
        .immediate()
    },
  }
}
