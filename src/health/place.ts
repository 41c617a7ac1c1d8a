import type { Static, TSchema } from '@sinclair/typebox'

/**
 * Where a probe's value shows in the legacy `GET /health` body, declared by the probe itself:
 * a key of the `components` map, or a field of the body (`system_metrics`). The health schemas
 * and bodies are built from the places the registry holds, so no probe is named outside its file.
 */
export interface HealthPlace<T extends TSchema = TSchema> {
  in: 'components' | 'body'
  key: string
  /** The value's schema in the health body. */
  type: T
  /** What it reads while its probe has no fresh result (or, for the port, before listen). */
  initial: Static<T>
  /**
   * For a key that varies with configuration (`port_5555_bound`): how the document describes it,
   * in place of a named property that would fix one port.
   */
  pattern?: string
}

/** A key of the legacy `components` map. */
export const componentPlace = <T extends TSchema>(key: string, type: T, initial: Static<T>, pattern?: string): HealthPlace<T> => ({
  in: 'components',
  key,
  type,
  initial,
  ...(pattern === undefined ? {} : { pattern }),
})

/** A field of the legacy body itself, beside `components`. */
export const bodyPlace = <T extends TSchema>(key: string, type: T, initial: Static<T>): HealthPlace<T> => ({ in: 'body', key, type, initial })
