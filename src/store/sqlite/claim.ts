import type Database from 'better-sqlite3'
import type { ClaimedPatch, ClaimOptions } from '../port/queue.js'
import type { Counters } from './counters.js'
import type { Events } from './events.js'
import type { Get } from './get.js'

/** Claims the head of one lane in one IMMEDIATE transaction (see QueuePort.claim). */
export function prepareClaim(db: Database.Database, { counters, events, get }: { counters: Counters; events: Events; get: Get }) {
  // The head of a lane is its lowest unfinished lane_seq; a lane with a running patch has
  // nothing claimable. Walking lanes (few) rather than queued patches (possibly a long backlog
  // behind one busy lane) keeps a claim at O(lanes · log n). Lanes compete by the creation
  // order of their heads. MATERIALIZED and CROSS JOIN pin that plan.
  const head = db.prepare<[{ targets: string | null }], { id: string }>(
    `WITH heads AS MATERIALIZED (
       SELECT (SELECT h.id FROM patches h WHERE h.target = l.target AND h.status IN ('queued', 'running')
               ORDER BY h.lane_seq LIMIT 1) AS id
       FROM lanes l
       WHERE (@targets IS NULL OR l.target IN (SELECT value FROM json_each(@targets)))
         AND NOT EXISTS (SELECT 1 FROM patches r WHERE r.target = l.target AND r.status = 'running')
     )
     SELECT p.id FROM heads CROSS JOIN patches p ON p.id = heads.id
     WHERE p.status = 'queued' ORDER BY p.seq LIMIT 1`,
  )
  const markRunning = db.prepare<[{ id: string; token: number; owner: string; expires: number; now: number }]>(
    `UPDATE patches SET status = 'running', attempts = attempts + 1, lease_token = @token, lease_owner = @owner,
       lease_expires_at = @expires, started_at = @now, updated_at = @now
     WHERE id = @id AND status = 'queued'`,
  )
  return (runnerId: string, opts: ClaimOptions): ClaimedPatch | null => {
    const now = opts.now ?? Date.now()
    const targets = opts.targets === null ? null : JSON.stringify(opts.targets)
    return db
      .transaction((): ClaimedPatch | null => {
        const picked = head.get({ targets })
        if (!picked) return null
        const token = counters.next('lease_token')
        const expires = now + opts.leaseMs
        markRunning.run({ id: picked.id, token, owner: runnerId, expires, now })
        events.record({ patch_id: picked.id, at: now, status: 'running', reason: 'claimed', detail: runnerId })
        return { record: get.loadSeen(picked.id), token, leaseExpiresAt: expires }
      })
      .immediate()
  }
}
