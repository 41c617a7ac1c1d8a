import { isUtf8 } from 'node:buffer'
import sjson from 'secure-json-parse'
import { Errors } from '../errors.js'

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_ARRAY = 0x5b
const OPEN_OBJECT = 0x7b
const CLOSE_ARRAY = 0x5d
const CLOSE_OBJECT = 0x7d

/**
 * Whether JSON text nests deeper than `limit`, read from the bytes in one pass with constant
 * memory. Runs before any parse: parsing `[[[…` megabytes deep takes seconds of the event loop
 * (and a walk of the result more), this takes a few milliseconds. Brackets inside strings do not
 * count; UTF-8 continuation bytes are all >= 0x80, so none is mistaken for one of these.
 */
export function nestsDeeperThan(bytes: Uint8Array, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]
    if (inString) {
      if (b === BACKSLASH) i++
      else if (b === QUOTE) inString = false
    } else if (b === QUOTE) inString = true
    else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > limit) return true
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) depth--
  }
  return false
}

/**
 * Parses a JSON request body: valid UTF-8 (decoding would otherwise turn invalid bytes into
 * U+FFFD silently, storing text the client never sent), nesting within `depthLimit` (checked on
 * the bytes first), and no `__proto__` / `constructor.prototype` keys. Throws the coded error.
 */
export function parseJsonBody(body: Buffer, depthLimit: number): unknown {
  if (!isUtf8(body)) throw new Errors.MALFORMED_JSON('the body is not valid UTF-8')
  if (nestsDeeperThan(body, depthLimit)) throw new Errors.JSON_TOO_DEEP(depthLimit)
  try {
    return sjson.parse(body, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch (err) {
    if (/forbidden prototype/i.test((err as Error).message)) throw new Errors.FORBIDDEN_KEY()
    throw new Errors.MALFORMED_JSON((err as Error).message)
  }
}
