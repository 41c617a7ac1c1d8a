import { createHash, randomBytes } from 'node:crypto'

/** Server-generated patch ids: time-ordered, URL-safe, never derived from client input. */
export function newPatchId(now = Date.now()): string {
  return `pt_${now.toString(36).padStart(9, '0')}${randomBytes(9).toString('base64url')}`
}

export const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')
