import type { PatchStatus } from '../../../src/schemas/record.js'

/** A status in words and colour: the word carries the meaning, the colour only helps. */
export function StatusBadge({ status }: { status: PatchStatus | string }) {
  return <span class={`badge status-${status}`}>{status}</span>
}
