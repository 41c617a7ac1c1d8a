// Cursor helpers shared by every adapter, so a cursor's shape and its error are the same everywhere.

/** A cursor a client sent back that no adapter issued (tampered, truncated, other version). */
export class InvalidCursorError extends Error {
  readonly code = 'INVALID_CURSOR'
  // Fastify answers 400 from this when a route does not translate it itself.
  readonly statusCode = 400
  constructor(cursor: string) {
    super(`invalid cursor: ${JSON.stringify(cursor.slice(0, 64))}`)
    this.name = 'InvalidCursorError'
  }
}

// The version prefix lets the key change shape later without misreading old cursors.
const CURSOR_PREFIX = 'c1:'

/** Opaque to clients: the creation-order key of the last item of a page. */
export function encodeCursor(key: number): string {
  if (!Number.isSafeInteger(key) || key < 0) throw new RangeError(`cursor key must be a non-negative safe integer: ${key}`)
  return Buffer.from(`${CURSOR_PREFIX}${key}`, 'utf8').toString('base64url')
}

/** Throws InvalidCursorError for anything encodeCursor did not produce. */
export function decodeCursor(cursor: string): number {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) throw new InvalidCursorError(cursor)
  const text = Buffer.from(cursor, 'base64url').toString('utf8')
  const m = /^c1:(0|[1-9][0-9]{0,15})$/.exec(text)
  const key = m ? Number(m[1]) : NaN
  if (!Number.isSafeInteger(key) || encodeCursor(key) !== cursor) throw new InvalidCursorError(cursor)
  return key
}
