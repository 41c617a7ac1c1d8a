import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
 * `${webhook-id}.${webhook-timestamp}.${body}` keyed with the base64 part of a `whsec_` secret.
 * Computed with node:crypto over the raw request bytes, so a body that is not valid UTF-8 is
 * verified exactly as sent.
 */
export const TOLERANCE_SECONDS = 5 * 60

export type SignatureFailure = 'MISSING_HEADERS' | 'BAD_TIMESTAMP' | 'TIMESTAMP_OUT_OF_TOLERANCE' | 'NO_MATCHING_SIGNATURE'

export interface SignatureHeaders {
  'webhook-id'?: string | string[]
  'webhook-timestamp'?: string | string[]
  'webhook-signature'?: string | string[]
}

export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64')
}

export function sign(secret: string, id: string, timestamp: number, body: Buffer | string): string {
  return `v1,${mac(secretKey(secret), id, timestamp, body).toString('base64')}`
}

function mac(key: Buffer, id: string, timestamp: number, body: Buffer | string): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest()
}

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)

/** Returns null when one of the signatures matches one of the keys, else why not. */
export function verify(keys: Buffer[], headers: SignatureHeaders, body: Buffer, nowSeconds = Math.floor(Date.now() / 1000)): SignatureFailure | null {
  const matched = matchingKey(keys, headers, body, nowSeconds)
  return typeof matched === 'number' ? null : matched
}

/** The index of the key one of the signatures matches (which secret signed), else why none does. */
export function matchingKey(keys: Buffer[], headers: SignatureHeaders, body: Buffer, nowSeconds = Math.floor(Date.now() / 1000)): number | SignatureFailure {
  const id = one(headers['webhook-id'])
  const ts = one(headers['webhook-timestamp'])
  const sigs = one(headers['webhook-signature'])
  if (!id || !ts || !sigs) return 'MISSING_HEADERS'
  if (!/^\d{1,12}$/.test(ts)) return 'BAD_TIMESTAMP'
  const timestamp = Number(ts)
  if (Math.abs(nowSeconds - timestamp) > TOLERANCE_SECONDS) return 'TIMESTAMP_OUT_OF_TOLERANCE'
  const candidates = sigs
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'))
  for (const [index, key] of keys.entries()) {
    const expected = mac(key, id, timestamp, body)
    // Every candidate is compared, matched or not, so timing does not reveal which one matched.
    let ok = false
    for (const c of candidates) ok = (c.length === expected.length && timingSafeEqual(c, expected)) || ok
    if (ok) return index
  }
  return 'NO_MATCHING_SIGNATURE'
}
