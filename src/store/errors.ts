// Failures a store reports in its own words, so callers can say exactly what happened.

/** An operation did not finish within the store's deadline; the caller stops waiting for it. */
export class StoreDeadlineError extends Error {
  override readonly name = 'StoreDeadlineError'
  constructor(readonly deadlineMs: number) {
    super(`the store did not answer within ${deadlineMs} ms`)
  }
}

/**
 * The store lost contact with its database after an enqueue's commit was sent and before it was
 * confirmed: the patch may be stored, under `patchId`, or not. Asking again with the same
 * idempotency key tells which (the stored record comes back as a duplicate).
 */
export class EnqueueUncertainError extends Error {
  override readonly name = 'EnqueueUncertainError'
  constructor(
    readonly patchId: string,
    options?: { cause?: unknown },
  ) {
    super(`the store did not confirm the commit of patch ${patchId}: it may be stored`, options)
  }
}
