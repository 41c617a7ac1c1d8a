import type { PatchError, PatchResult } from '../../schemas/record.js'

/** How a running patch ends, as both adapters record it: the patch columns and its event. */
export interface Finish {
  id: string
  token: number
  status: 'applied' | 'failed' | 'rejected'
  result: PatchResult | null
  error: PatchError | null
  reason: string
  detail: string | null
}

/** complete(): applied, event `completed` with the commit as detail. */
export const completed = (id: string, token: number, result: PatchResult): Finish => ({
  id,
  token,
  status: 'applied',
  result,
  error: null,
  reason: 'completed',
  detail: result.commit,
})

/** fail(): the error's code is the event's reason, its message the detail. */
export const failed = (id: string, token: number, status: 'failed' | 'rejected', error: PatchError, result: PatchResult | null): Finish => ({
  id,
  token,
  status,
  result,
  error,
  reason: error.code,
  detail: error.message,
})

/** A JSON column's text, or null. */
export const jsonOrNull = (value: unknown): string | null => (value === null ? null : JSON.stringify(value))
