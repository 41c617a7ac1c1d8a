import type { NotificationPayload } from '../schemas/notification.js'
import { FINAL_STATUSES } from '../schemas/record.js'
import type { DeliveryJob } from '../store/port.js'

/**
 * The body of a delivery. Built only from what the transition recorded and, for a final status,
 * the patch's outcome (which never changes afterwards), so every attempt sends the same bytes.
 */
export function notificationPayload(job: DeliveryJob): NotificationPayload {
  const final = FINAL_STATUSES.includes(job.status)
  return {
    type: `patch.${job.status}`,
    timestamp: job.at,
    data: {
      id: job.patch_id,
      client_id: job.client_id,
      target: job.target,
      status: job.status,
      reason: job.reason,
      detail: job.detail,
      commit: final ? (job.result?.commit ?? null) : null,
      tag: final ? (job.result?.tag ?? null) : null,
      error: final ? job.error : null,
      links: { self: `/patches/${encodeURIComponent(job.patch_id)}` },
    },
  }
}
