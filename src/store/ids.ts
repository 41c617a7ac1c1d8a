// Cursor helpers shared by every adapter, so a cursor's shape and its error are the same everywhere.

/**
 * A cursor a client sent back that no adapter issued (tampered, truncated, other version). The
 * HTTP answer it becomes is src/ingest/store-errors.ts's to decide, not the store's.
 */
export class InvalidCursorError extends Error {
  readonly code = 'INVALID_CURSOR'
  /** What the client sent, cut to a length fit to quote back. */
  readonly cursor: string
  constructor(cursor: string) {
    super(`invalid cursor: ${JSON.stringify(cursor.slice(0, 64))}`)
    this.name = 'InvalidCursorError'
    this.cursor = cursor.slice(0, 64)
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

/**
 * The target list a list query is left with: null when nothing can match (an empty list, or a
 * `target` outside it), undefined when no list applies (none given, or one `target` within it).
 * Distinct names, so each one's index range is read once.
 */
export function narrowTargets(query: { target?: string; targets?: readonly string[] }): string[] | undefined | null {
  if (query.targets === undefined) return undefined
  if (query.target !== undefined) return query.targets.includes(query.target) ? undefined : null
  return query.targets.length === 0 ? null : [...new Set(query.targets)]
}
