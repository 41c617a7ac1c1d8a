import { hash, randomFillSync } from 'node:crypto'

// Random bytes drawn 4 KiB at a time: one call per id cost more than the rest of the id.
const POOL = Buffer.alloc(4096)
let used = POOL.length
function random(n: number): Buffer {
  if (used + n > POOL.length) {
    randomFillSync(POOL)
    used = 0
  }
  used += n
  // Copied out, so a later refill never changes a value already handed out.
  return Buffer.from(POOL.subarray(used - n, used))
}

/** Server-generated patch ids: time-ordered, URL-safe, never derived from client input. */
export function newPatchId(now = Date.now()): string {
  return `pt_${now.toString(36).padStart(9, '0')}${random(9).toString('base64url')}`
}

export const sha256 = (data: string | Buffer) => hash('sha256', data, 'hex')
