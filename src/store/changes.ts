/**
 * Called with the id of a patch whose status just changed (an event row was added), or with null
 * when changes may have been missed (another process wrote, a notification connection was
 * re-established): then every patch of interest is worth a look.
 */
export type PatchChangeListener = (id: string | null) => void

export interface ChangeLogger {
  error(obj: object, msg: string): void
}

/**
 * The in-process side of the store's change notifications: each adapter publishes here after a
 * transition committed, so followers in this process need not poll. A listener that throws is
 * logged and does not keep the others from hearing.
 */
export class PatchChanges {
  readonly #listeners = new Set<PatchChangeListener>()

  constructor(private readonly logger?: ChangeLogger) {}

  get size(): number {
    return this.#listeners.size
  }

  subscribe(listener: PatchChangeListener): () => void {
    this.#listeners.add(listener)
    return () => void this.#listeners.delete(listener)
  }

  emit(id: string | null): void {
    for (const listener of this.#listeners) {
      try {
        listener(id)
      } catch (err) {
        this.logger?.error({ err }, 'patch change listener threw')
      }
    }
  }
}
